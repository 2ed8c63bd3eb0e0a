import type { Command } from 'commander';
import { loadConfig, redactedConfig, settingsMarkdown } from '../lib/config.ts';

export function registerConfigCommand(program: Command): void {
  program
    .command('config')
    .description('Print the effective configuration (or, with --markdown, the table of all settings)')
    .option('--markdown', 'print the settings table used in README.md')
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown) process.stdout.write(`${settingsMarkdown()}\n`);
      else process.stdout.write(`${JSON.stringify(redactedConfig(loadConfig()), null, 2)}\n`);
    });
}
