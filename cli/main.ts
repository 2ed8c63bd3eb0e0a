/** `hitstream`: one command, one subcommand per job. Each subcommand lives in its own file. */
import { Command } from 'commander';
import { describeError, HitstreamError } from '../lib/errors.ts';
import { requireDataFile } from '../lib/kaggle-csv.ts';
import { registerAlertsCommand } from './alerts-command.ts';
import { registerAutopilotCommand } from './autopilot-command.ts';
import { registerBenchCommand } from './bench-command.ts';
import { registerConfigCommand } from './config-command.ts';
import { registerDashboardsCommand } from './dashboards-command.ts';
import { registerDeadLettersCommand } from './dead-letters-command.ts';
import { registerMigrateCommand } from './migrate-command.ts';
import { registerModelsCommand } from './models-command.ts';
import { registerPipelineCommands } from './pipeline-commands.ts';
import { registerStackCommand } from './stack-command.ts';
import { registerPredictCommand, registerTrainCommand } from './train-command.ts';
import { registerExplainCommand } from './explain-command.ts';
import { registerUpCommand } from './up-command.ts';

const program = new Command('hitstream')
  .description('Real-time popularity prediction for music tracks: Kafka -> four models -> ClickHouse')
  .showHelpAfterError()
  // Every command's --data is checked before it starts anything (a bench used to bring up its
  // whole stack, and replay to wait for Kafka, before finding the path was wrong).
  .hook('preAction', async (_program, command) => {
    const data: unknown = command.opts().data;
    if (typeof data === 'string') await requireDataFile(data);
  });

registerStackCommand(program);
registerMigrateCommand(program);
registerConfigCommand(program);
registerTrainCommand(program);
registerPredictCommand(program);
registerExplainCommand(program);
registerPipelineCommands(program);
registerUpCommand(program);
registerDashboardsCommand(program);
registerAlertsCommand(program);
registerDeadLettersCommand(program);
registerModelsCommand(program);
registerAutopilotCommand(program);
registerBenchCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const code = err instanceof HitstreamError ? ` [${err.code}]` : '';
  process.stderr.write(`hitstream: ${describeError(err)}${code}\n`);
  process.exitCode = 1;
  // A service that failed to start (e.g. its port is taken) may still hold open connections that
  // would keep it running, half-started, with nothing listening: make sure it ends.
  setTimeout(() => process.exit(1), 2_000).unref();
}
