import type { Command } from 'commander';
import { benchModels } from '../bench/models.ts';
import { benchPipeline } from '../bench/pipeline.ts';
import { loadConfig } from '../lib/config.ts';

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description('Benchmarks that print their figures (never run as tests)');
  bench
    .command('models')
    .description('Per-model inference µs/row at batch 1 and 256')
    .option('--data <path>', 'CSV to score', 'data/spotify_tracks_sample.csv')
    .option('--json', 'print JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      await benchModels({ data: o.data, modelsDir: loadConfig().modelsDir || undefined, json: o.json });
    });
  bench
    .command('pipeline')
    .description('A CSV end to end through the real stack: throughput, then latency at 1,000 events/s')
    .requiredOption('--data <path>', 'CSV in the Kaggle format (e.g. the full dataset)')
    .option('--workers <n>', 'scorer worker processes', '2')
    .option('--latency-seconds <n>', 'length of the 1,000 events/s phase', '20')
    .option('--json', 'print JSON')
    .action(async (o: { data: string; workers: string; latencySeconds: string; json?: boolean }) => {
      await benchPipeline(loadConfig(), {
        data: o.data,
        workers: Number(o.workers),
        json: o.json,
        latencySeconds: Number(o.latencySeconds),
      });
    });
}
