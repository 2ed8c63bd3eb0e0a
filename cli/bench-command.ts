// Each bench is imported when it runs: they use devDependencies (autocannon, kafkajs for the
// client comparison) that an image installed with --omit=dev does not have, and the CLI's other
// commands must start there.
import { InvalidArgumentError, type Command } from 'commander';
import type { benchShadow } from '../bench/shadow.ts';
import type { benchLabels } from '../bench/labels.ts';
import type { benchAutopilot } from '../bench/autopilot.ts';
import type { benchSwap } from '../bench/swap.ts';
import type { benchPipeline } from '../bench/pipeline.ts';
import type { benchFeed } from '../bench/feed.ts';
import type { benchSoak } from '../bench/soak.ts';
import type { benchPredict } from '../bench/predict.ts';
import type { benchKafkaClients } from '../bench/kafka-clients.ts';
import { loadConfig } from '../lib/config.ts';
import { PACED_SENDS_PER_SECOND } from '../producers/replay.ts';
import { positive, positiveInteger } from './options.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description('Benchmarks that print their figures (never run as tests)');
  bench
    .command('models')
    .description('Per-model inference µs/row at batch 1, 8 and 256')
    .option('--data <path>', 'CSV to score', SAMPLE)
    .option('--json', 'print JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      await (
        await import('../bench/models.ts')
      ).benchModels({ ...o, modelsDir: loadConfig().modelsDir || undefined });
    });
  bench
    .command('shap')
    .description(
      'Tree SHAP of the set’s Random Forest and XGBoost against Python shap’s TreeExplainer on the same trees and rows (needs `pip install shap`)',
    )
    .option('--data <path>', 'CSV whose rows are explained', SAMPLE)
    .option('--rows <n>', 'rows explained', positiveInteger, 300)
    .option('--python <path>', 'a Python with shap installed', 'python3')
    .option(
      '--write-fixture',
      'keep the first 40 rows and shap’s values in test/fixtures/shap-reference.json',
    )
    .action(async (o: { data: string; rows: number; python: string; writeFixture?: boolean }) => {
      await (
        await import('../bench/shap-check.ts')
      ).benchShap({ ...o, modelsDir: loadConfig().modelsDir || undefined });
    });
  bench
    .command('explain')
    .description(
      'POST /explain latency on one API process; the workers’ CPU per event with sampled explanations off, within the budget, and unbounded',
    )
    .option('--data <path>', 'CSV whose rows are explained and replayed', SAMPLE)
    .option('--requests <n>', 'POST /explain requests, one at a time', positiveInteger, 100)
    .option('--rate <n>', 'events per second in the worker phases', positive, 1000)
    .option('--seconds <n>', 'length of each worker phase', positive, 20)
    .option('--sample <share>', 'HITSTREAM_EXPLAIN_SAMPLE of the sampled phases', positive, 0.01)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--json', 'print JSON')
    .action(
      async (o: {
        data: string;
        requests: number;
        rate: number;
        seconds: number;
        sample: number;
        workers: number;
        json?: boolean;
      }) => {
        await (await import('../bench/explain.ts')).benchExplain(loadConfig(), o);
      },
    );
  bench
    .command('alerts')
    .description(
      'From the first drifted event to the notification through a real Prometheus and Alertmanager (default settings), and the error estimate’s check',
    )
    .option('--data <path>', 'CSV whose rows are shifted and published', SAMPLE)
    .option('--rate <n>', 'drifted events per second', positiveInteger, 20)
    .option('--json', 'print JSON')
    .action(async (o: { data: string; rate: number; json?: boolean }) => {
      await (await import('../bench/alerts.ts')).benchAlerts(loadConfig(), o);
    });
  bench
    .command('dashboards')
    .description(
      '/dashboards.html in Chromium after a replay: first paint and refresh times, and the API alone',
    )
    .option('--data <path>', 'CSV to replay first', SAMPLE)
    .option('--rounds <n>', 'first visits and 15-minute refreshes measured', positiveInteger, 6)
    .option('--json', 'print JSON')
    .action(async (o: { data: string; rounds: number; json?: boolean }) => {
      await (await import('../bench/dashboards.ts')).benchDashboards(loadConfig(), o);
    });
  bench
    .command('shadow')
    .description('CPU per event with a shadow version vs without, alternating on the same workers')
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', SAMPLE)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--rate <n>', 'events per second', positive, 1000)
    .option('--seconds <n>', 'length of each phase', positive, 10)
    .option('--rounds <n>', 'off/on pairs', positiveInteger, 2)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchShadow>[1]) => {
      await (await import('../bench/shadow.ts')).benchShadow(loadConfig(), o);
    });
  bench
    .command('labels')
    .description(
      'Labels in bulk beside live scoring: ingestion rate, scoring p99 quiet vs flooded, label → error figures',
    )
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', SAMPLE)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--rate <n>', 'events per second scored meanwhile', positive, 1000)
    .option('--seconds <n>', 'length of each phase', positive, 15)
    .option('--label-rate <n>', 'labels per second in the flooded phases', positive, 10_000)
    .option('--burst <n>', 'labels sent as fast as possible at the end', positiveInteger, 100_000)
    .option('--rounds <n>', 'quiet/flood pairs', positiveInteger, 2)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchLabels>[1]) => {
      await (await import('../bench/labels.ts')).benchLabels(loadConfig(), o);
    });
  bench
    .command('autopilot')
    .description(
      'From an alert to a promoted better version (each step timed, from the audit trail), and scoring p99 while the autopilot trains vs quiet',
    )
    .option('--data <path>', 'CSV in the Kaggle format: its first half is history, its second fresh', SAMPLE)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--rate <n>', 'events per second scored in the quiet and training phases', positive, 1000)
    .option('--seconds <n>', 'length of the quiet phase', positive, 20)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchAutopilot>[1]) => {
      await (await import('../bench/autopilot.ts')).benchAutopilot(loadConfig(), o);
    });
  bench
    .command('swap')
    .description('Event → prediction latency in the 10 s after a promotion (hot swap) vs steady state')
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', SAMPLE)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--rate <n>', 'events per second', positive, 1000)
    .option('--steady-seconds <n>', 'steady state before the promotion', positive, 15)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchSwap>[1]) => {
      await (await import('../bench/swap.ts')).benchSwap(loadConfig(), o);
    });
  bench
    .command('pipeline')
    .description('A CSV end to end through the real stack: throughput, then latency at 1,000 events/s')
    .requiredOption('--data <path>', 'CSV in the Kaggle format (e.g. the full dataset)')
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--latency-seconds <n>', 'length of the 1,000 events/s phase', positive, 20)
    .option(
      '--latency-sends <n>',
      'sends a second in that phase, 20 or more (a paced replay sends at least every 50 ms): 20 = 50 events every 50 ms, 100 = 10 every 10 ms',
      latencySends,
      PACED_SENDS_PER_SECOND,
    )
    .option(
      '--brokers <n>',
      'also run on a cluster of N brokers of its own, and print the cost of replication as ratios',
      positiveInteger,
      1,
    )
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchPipeline>[1]) => {
      await (await import('../bench/pipeline.ts')).benchPipeline(loadConfig(), o);
    });
  bench
    .command('scaleout')
    .description(
      "Workers' CPU ms per event with 1, 2 and 4 workers at one fixed rate, in one run (flat = linear scale-out)",
    )
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', SAMPLE)
    .option(
      '--workers <list>',
      'worker counts, comma-separated',
      (v: string) => v.split(',').map((x) => positiveInteger(x)),
      [1, 2, 4],
    )
    .option('--rate <n>', 'events per second', positive, 500)
    .option('--seconds <n>', 'length of each run', positive, 20)
    .option(
      '--fetch-wait-ms <list>',
      'HITSTREAM_FETCH_WAIT_MS values to compare, comma-separated (default: the setting)',
      (v: string) => v.split(',').map((x) => Number(x)),
    )
    .option('--json', 'print JSON')
    .action(
      async (o: {
        data: string;
        workers: number[];
        rate: number;
        seconds: number;
        fetchWaitMs?: number[];
        json?: boolean;
      }) => {
        await (
          await import('../bench/scaleout.ts')
        ).benchScaleout(loadConfig(), { ...o, counts: o.workers, fetchWaits: o.fetchWaitMs });
      },
    );
  bench
    .command('feed')
    .description('WebSocket clients on /feed during a fixed-rate replay: prediction → client latency, drops')
    .option('--clients <n>', 'WebSocket clients', positiveInteger, 20)
    .option('--rate <n>', 'events per second', positive, 1000)
    .option('--seconds <n>', 'how long to measure, after the warm-up', positive, 20)
    .option('--warmup-seconds <n>', 'replay this long first; its latency is reported apart', positive, 5)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--data <path>', 'CSV in the Kaggle format (looped as needed)', SAMPLE)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchFeed>[1]) => {
      await (await import('../bench/feed.ts')).benchFeed(loadConfig(), o);
    });
  bench
    .command('soak')
    .description('Replay in a loop for N minutes and sample each worker’s memory (flat or growing?)')
    .option('--minutes <n>', 'how long', positive, 10)
    .option('--rate <n>', 'events per second', positive, 1000)
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--sample-seconds <n>', 'seconds between memory samples', positive, 15)
    .option('--data <path>', 'CSV in the Kaggle format (looped)', SAMPLE)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchSoak>[1]) => {
      await (await import('../bench/soak.ts')).benchSoak(loadConfig(), o);
    });
  bench
    .command('predict')
    .description(
      'POST /predict at a fixed rate against a running API (p50/p99); --saturate: an API of its own, each request alone vs batched, requests/s at --connections and p99 at --rate',
    )
    .option('--url <url>', 'API base URL', 'http://127.0.0.1:8080')
    .option('--rate <n>', 'requests per second', positive, 100)
    .option('--seconds <n>', 'how long (each phase with --saturate)', positive, 20)
    .option('--data <path>', 'CSV whose rows are sent as features', SAMPLE)
    .option('--saturate', 'start an API of its own, drive it with autocannon, batching off then on')
    .option('--connections <n>', 'with --saturate: open connections', positiveInteger, 50)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchPredict>[0] & { saturate?: boolean; connections: number }) => {
      if (o.saturate)
        await (await import('../bench/predict-saturation.ts')).benchPredictSaturation(loadConfig(), o);
      else await (await import('../bench/predict.ts')).benchPredict(o);
    });
  bench
    .command('kafka-clients')
    .description(
      'kafkajs vs @platformatic/kafka on the configured brokers: produce and consume events/s and CPU per event, latency at 1,000/s, idle CPU',
    )
    .option('--events <n>', 'events produced and consumed per client and round', positiveInteger, 200_000)
    .option('--rounds <n>', 'rounds, clients alternating', positiveInteger, 2)
    .option('--json', 'print JSON')
    .action(async (o: Parameters<typeof benchKafkaClients>[1]) => {
      await (await import('../bench/kafka-clients.ts')).benchKafkaClients(loadConfig(), o);
    });
}

/** A paced replay sends at least every 50 ms (producers/replay.ts): fewer sends cannot be asked for. */
function latencySends(value: string): number {
  const n = positiveInteger(value);
  if (n < PACED_SENDS_PER_SECOND)
    throw new InvalidArgumentError(
      `must be ${PACED_SENDS_PER_SECOND} or more (a paced replay sends at least every 50 ms).`,
    );
  return n;
}
