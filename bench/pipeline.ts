/**
 * `hitstream bench pipeline`: the full dataset through the real stack. Phase 1 replays the file
 * at full speed into empty topics and tables and times it until every prediction row is stored;
 * phase 2 replays at a fixed 1,000 events/s and measures event → predictions-topic latency:
 * from the event's time to the broker's append time of its prediction (`p50_ms`, `p99_ms`), and
 * to its receipt by a consumer in this process (`received_p50_ms`, `received_p99_ms`).
 */
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brokerList, kafkaNodes, startKafka, stopKafka } from '../infra/stack/kafka-native.ts';
import { clickhouseProcess } from '../infra/stack/clickhouse-native.ts';
import { stackPaths } from '../infra/stack/paths.ts';
import { runningPid } from '../infra/stack/processes.ts';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createPublisher } from '../producers/publisher.ts';
import { PACED_SENDS_PER_SECOND, replayCsv } from '../producers/replay.ts';
import { cpuFigures, say, withIsolatedStack } from './isolated-stack.ts';
import { startLatencyProbe } from './latency-probe.ts';
import { printResult, quantile } from './report.ts';
import { scoreNamesOf } from '../models/model-set.ts';

interface PipelineOptions {
  data: string;
  workers: number;
  json?: boolean;
  latencySeconds?: number;
  /**
   * Sends a second in phase 2, 20 or more: 20 (the default, a paced replay's pace) sends 50
   * events every 50 ms; 100 sends 10 every 10 ms, events as they come one by one.
   */
  latencySends?: number;
  /** More than 1: run on the single broker, then on a cluster of this many, and compare. */
  brokers?: number;
}

export async function benchPipeline(base: Config, opts: PipelineOptions) {
  if ((opts.brokers ?? 1) <= 1) {
    const result = await pipelineRun(base, opts);
    printResult(result, opts.json);
    return result;
  }
  say('run 1 of 2: the running single-broker stack');
  const single = await pipelineRun(base, opts);
  say(
    `run 2 of 2: a cluster of ${opts.brokers} brokers of the bench's own (replication 3, min.insync.replicas 2)`,
  );
  // The cluster lives in a folder of its own; its CPU figures still count the running ClickHouse.
  const clickhouse = runningPid(clickhouseProcess(base));
  const replicated = await withBenchCluster(base, opts.brokers!, (cfg) =>
    pipelineRun(cfg, opts, { clickhouse }),
  );
  const ratio = (k: 'events_per_s' | 'p50_ms' | 'p99_ms') => round2(replicated[k] / single[k]);
  const result = {
    single_broker: single,
    replicated,
    replicated_over_single: {
      events_per_s: ratio('events_per_s'),
      cpu_ms_per_event_total: round2(replicated.cpu_ms_per_event.total! / single.cpu_ms_per_event.total!),
      kafka_cpu_ms_per_event: round2(
        (replicated.cpu_ms_per_event.kafkas! + (replicated.cpu_ms_per_event.kafkacontroller ?? 0)) /
          single.cpu_ms_per_event.kafka!,
      ),
      p50_ms: ratio('p50_ms'),
      p99_ms: ratio('p99_ms'),
    },
  };
  printResult(result, opts.json);
  return result;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * A Kafka cluster for one bench run, on ports and in a folder of its own (the running stack's
 * broker keeps its own), stopped afterwards; `run` gets the config that points at it.
 */
async function withBenchCluster<T>(
  base: Config,
  brokers: number,
  run: (cfg: Config) => Promise<T>,
): Promise<T> {
  const home = join(base.home, 'bench-cluster');
  const ports = {
    kafkaPort: 49092,
    kafkaControllerPort: 49093,
    kafkaSaslSslPort: 49094,
    kafkaMtlsPort: 49095,
  };
  const cluster: Config = { ...base, ...ports, home, stackKafkaBrokers: brokers };
  // The jars the running stack fetched, not a second Maven copy.
  const jars = stackPaths(base).kafkaLib;
  if (existsSync(jars) && !existsSync(stackPaths(cluster).kafkaLib)) {
    mkdirSync(dirname(stackPaths(cluster).kafkaLib), { recursive: true });
    symlinkSync(jars, stackPaths(cluster).kafkaLib);
  }
  const t0 = performance.now();
  await startKafka(cluster, say);
  say(`cluster of ${brokers} brokers up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    return await run({ ...cluster, kafkaBrokers: brokerList(kafkaNodes(cluster)) });
  } finally {
    await stopKafka(cluster);
  }
}

async function pipelineRun(
  base: Config,
  opts: PipelineOptions,
  otherPids: Record<string, number | undefined> = {},
) {
  return withIsolatedStack(base, opts.workers, async ({ cfg, cpuWindow }) => {
    const ch = createClickhouse(cfg);
    const count = async (q: string) =>
      Number(
        Object.values(
          (await (await ch.query({ query: q, format: 'JSONEachRow' })).json<Record<string, string>>())[0] ??
            {},
        )[0] ?? 0,
      );
    try {
      say(`${opts.workers} workers joined; phase 1: replaying ${opts.data} at full speed`);
      const publisher = await createPublisher(cfg, 'bench');
      const t0 = performance.now();
      const fullSpeedCpu = cpuWindow(otherPids);
      const replay = await replayCsv(publisher, { path: opts.data });
      let rows = 0;
      while ((rows = await count('SELECT count() FROM predictions')) < replay.sent * scoreNamesOf().length)
        await new Promise((r) => setTimeout(r, 200));
      const seconds = (performance.now() - t0) / 1000;
      const phase1 = {
        events: replay.sent,
        seconds: Math.round(seconds * 100) / 100,
        events_per_s: Math.round(replay.sent / seconds),
        prediction_rows: rows,
        distinct_prediction_rows: await count('SELECT count() FROM predictions FINAL'),
        dead_letters: await count('SELECT count() FROM dead_letters FINAL'),
        replay_events_per_s: Math.round(replay.eventsPerSecond),
        ...cpuFigures(fullSpeedCpu(replay.sent)),
      };
      say(`phase 1: ${JSON.stringify(phase1)}`);

      say(
        `phase 2: 1,000 events/s in ${opts.latencySends ?? PACED_SENDS_PER_SECOND} sends a second for ${opts.latencySeconds ?? 20} s, measuring event → predictions-topic latency`,
      );
      // "Event → predictions topic" is when the broker appended the prediction (LogAppendTime);
      // the time this process received it is printed too: it adds the fetch and this process's
      // own pauses (it also runs the replay).
      const probe = await startLatencyProbe(cfg, `${cfg.consumerGroup}-latency`);
      await new Promise((r) => setTimeout(r, 3000));
      probe.measure(true);
      const limit = 1000 * (opts.latencySeconds ?? 20);
      const fixedRateCpu = cpuWindow(otherPids);
      const fixedRate = await replayCsv(publisher, {
        path: opts.data,
        rate: 1000,
        limit,
        batchSize: Math.max(1, Math.round(1000 / (opts.latencySends ?? PACED_SENDS_PER_SECOND))),
        maxInFlight: 64,
        quiet: true,
      });
      const latencyCpu = fixedRateCpu(fixedRate.sent);
      await new Promise((r) => setTimeout(r, 2000));
      probe.measure(false);
      await probe.stop();
      await publisher.close();
      const toTopic = probe.samples.map((x) => x.toTopicMs).sort((a, b) => a - b);
      const received = probe.samples.map((x) => x.receivedMs).sort((a, b) => a - b);
      const fromScored = probe.samples.map((x) => x.fromScoredMs).sort((a, b) => a - b);
      const toScored = probe.samples.map((x) => x.toTopicMs - x.fromScoredMs).sort((a, b) => a - b);
      const result = {
        ...phase1,
        latency_events: toTopic.length,
        latency_sends_per_s: opts.latencySends ?? PACED_SENDS_PER_SECOND,
        p50_ms: quantile(toTopic, 0.5),
        p99_ms: quantile(toTopic, 0.99),
        // The two halves: the event's time → the worker's models done (the replay, Kafka, the
        // fetch, waiting, scoring), and from there → the broker's append (the publish).
        event_to_scored_p50_ms: quantile(toScored, 0.5),
        event_to_scored_p99_ms: quantile(toScored, 0.99),
        scored_to_topic_p50_ms: quantile(fromScored, 0.5),
        scored_to_topic_p99_ms: quantile(fromScored, 0.99),
        received_p50_ms: quantile(received, 0.5),
        received_p99_ms: quantile(received, 0.99),
        ...cpuFigures(latencyCpu, 'latency_'),
        workers: opts.workers,
        brokers: cfg.kafkaBrokers.length,
      };
      return result;
    } finally {
      await ch.close();
    }
  });
}
