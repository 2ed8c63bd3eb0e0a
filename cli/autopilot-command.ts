/** `hitstream autopilot` (the long-running process) and `hitstream autopilot status`. */
import type { Command } from 'commander';
import { runAutopilot } from '../autopilot/main.ts';
import { autopilotStatus } from '../autopilot/status.ts';
import { HitstreamError } from '../lib/errors.ts';
import { loadConfig } from '../lib/config.ts';

export function registerAutopilotCommand(program: Command): void {
  const autopilot = program
    .command('autopilot')
    .description(
      'From an alert (or a schedule) to a better model: train from ClickHouse, backfill, shadow, test, promote or retire, probation with rollback; every step in the audit trail. Policy: HITSTREAM_AUTOPILOT_POLICY',
    )
    .option('--dry-run', 'log what it would do when a run is due; change nothing')
    .action((opts: { dryRun?: boolean }) => runAutopilot(loadConfig(), { dryRun: opts.dryRun }));
  autopilot
    .command('status')
    .description(
      'The policy, whether an autopilot answers, the run in progress and the last runs, step by step',
    )
    .option('--runs <n>', 'how many runs', '5')
    .option('--json', 'as JSON')
    .action(async (opts: { runs: string; json?: boolean }) => {
      const runs = Number(opts.runs);
      if (!Number.isInteger(runs) || runs < 1)
        throw new HitstreamError('CLI_BAD_OPTION', `--runs must be a whole number ≥ 1, got ${opts.runs}`, {
          field: '--runs',
        });
      process.stdout.write(`${await autopilotStatus(loadConfig(), { runs, json: opts.json })}\n`);
    });
}
