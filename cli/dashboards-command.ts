import type { Command } from 'commander';
import { writeGenerated } from '../dashboards/generate.ts';

export function registerDashboardsCommand(program: Command): void {
  program
    .command('dashboards')
    .description(
      'Regenerate the Grafana dashboards and alert rules from dashboards/*.ts and the models’ manifests',
    )
    .option('--check', 'only report files that are out of date (exit 1 if any)')
    .action(async (opts: { check?: boolean }) => {
      const stale = await writeGenerated(Boolean(opts.check));
      if (opts.check && stale.length) {
        process.stderr.write(`dashboards: out of date: ${stale.join(', ')} (run npx hitstream dashboards)\n`);
        process.exitCode = 1;
      } else
        process.stderr.write(`dashboards: ${stale.length ? `wrote ${stale.join(', ')}` : 'up to date'}\n`);
    });
}
