import type { Command } from 'commander';
import { loadConfig } from '../lib/config.ts';
import { migrate } from '../infra/migrate.ts';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('Create the ClickHouse database and apply pending migrations (idempotent)')
    .action(async () => {
      const cfg = loadConfig();
      const applied = await migrate(cfg);
      process.stderr.write(
        applied.length
          ? `migrate: applied ${applied.join(', ')} to ${cfg.clickhouseDatabase}\n`
          : `migrate: ${cfg.clickhouseDatabase} is up to date\n`,
      );
    });
}
