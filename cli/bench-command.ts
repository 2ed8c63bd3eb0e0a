import type { Command } from 'commander';
import { benchFeed } from '../bench/feed.ts';
import { benchModels } from '../bench/models.ts';
import { benchPipeline } from '../bench/pipeline.ts';
import { benchPredict } from '../bench/predict.ts';
import { benchSoak } from '../bench/soak.ts';
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
  bench
    .command('feed')
    .description('WebSocket clients on /feed during a fixed-rate replay: prediction → client latency, drops')
    .option('--clients <n>', 'WebSocket clients', '20')
    .option('--rate <n>', 'events per second', '1000')
    .option('--seconds <n>', 'how long', '20')
    .option('--workers <n>', 'scorer worker processes', '2')
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', 'data/spotify_tracks_sample.csv')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        clients: string;
        rate: string;
        seconds: string;
        workers: string;
        data: string;
        json?: boolean;
      }) => {
        await benchFeed(loadConfig(), {
          data: o.data,
          clients: Number(o.clients),
          rate: Number(o.rate),
          seconds: Number(o.seconds),
          workers: Number(o.workers),
          json: o.json,
        });
      },
    );
  bench
    .command('soak')
    .description('Replay in a loop for N minutes and sample each worker’s memory (flat or growing?)')
    .option('--minutes <n>', 'how long', '10')
    .option('--rate <n>', 'events per second', '1000')
    .option('--workers <n>', 'scorer worker processes', '2')
    .option('--sample-seconds <n>', 'seconds between memory samples', '15')
    .option('--data <path>', 'CSV in the Kaggle format (looped)', 'data/spotify_tracks_sample.csv')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        minutes: string;
        rate: string;
        workers: string;
        sampleSeconds: string;
        data: string;
        json?: boolean;
      }) => {
        await benchSoak(loadConfig(), {
          data: o.data,
          minutes: Number(o.minutes),
          rate: Number(o.rate),
          workers: Number(o.workers),
          sampleSeconds: Number(o.sampleSeconds),
          json: o.json,
        });
      },
    );
  bench
    .command('predict')
    .description('POST /predict at a fixed rate against a running API; prints p50/p99')
    .option('--url <url>', 'API base URL', 'http://127.0.0.1:8080')
    .option('--rate <n>', 'requests per second', '100')
    .option('--seconds <n>', 'how long', '20')
    .option('--data <path>', 'CSV whose rows are sent as features', 'data/spotify_tracks_sample.csv')
    .option('--json', 'print JSON')
    .action(async (o: { url: string; rate: string; seconds: string; data: string; json?: boolean }) => {
      await benchPredict({
        url: o.url,
        rate: Number(o.rate),
        seconds: Number(o.seconds),
        data: o.data,
        json: o.json,
      });
    });
}
