/**
 * `hitstream bench pipeline`: the full dataset through the real stack. Phase 1 replays the file
 * at full speed into empty topics and tables and times it until every prediction row is stored;
 * phase 2 replays at a fixed 1,000 events/s and measures event → predictions-topic latency.
 */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createKafka } from '../lib/kafka.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { printResult, quantile, say, withIsolatedStack } from './isolated-stack.ts';

/** The event's time, read without parsing the whole message (this process shares the CPU). */
const EVENT_TIME = /"event_time":"([^"]+)"/;

export async function benchPipeline(
  base: Config,
  opts: { data: string; workers: number; json?: boolean; latencySeconds?: number },
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
      const fullSpeedCpu = cpuWindow();
      const replay = await replayCsv(publisher, { path: opts.data });
      let rows = 0;
      while ((rows = await count('SELECT count() FROM predictions')) < replay.sent * 4)
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
        cpu_ms_per_event: fullSpeedCpu(replay.sent),
      };
      say(`phase 1: ${JSON.stringify(phase1)}`);

      say(
        `phase 2: 1,000 events/s for ${opts.latencySeconds ?? 20} s, measuring event → predictions-topic latency`,
      );
      const latencies: number[] = [];
      const consumer = createKafka(cfg, 'bench-latency').consumer({
        groupId: `${cfg.consumerGroup}-latency`,
        // The broker answers a fetch as soon as one byte is there (minBytes 1), so a longer wait
        // adds no latency; it only saves empty fetches that would take CPU from the workers.
        maxWaitTimeInMs: 1000,
      });
      await consumer.connect();
      await consumer.subscribe({ topic: cfg.topicPredictions, fromBeginning: false });
      let measuring = false;
      await consumer.run({
        eachBatch: ({ batch }) => {
          const now = Date.now();
          if (measuring)
            for (const m of batch.messages)
              latencies.push(now - Date.parse(EVENT_TIME.exec(m.value!.toString())![1]!));
          return Promise.resolve();
        },
      });
      await new Promise((r) => setTimeout(r, 3000));
      measuring = true;
      const limit = 1000 * (opts.latencySeconds ?? 20);
      const fixedRateCpu = cpuWindow();
      const fixedRate = await replayCsv(publisher, { path: opts.data, rate: 1000, limit, quiet: true });
      const latencyCpu = fixedRateCpu(fixedRate.sent);
      await new Promise((r) => setTimeout(r, 2000));
      measuring = false;
      await consumer.disconnect();
      await publisher.close();
      latencies.sort((a, b) => a - b);
      const result = {
        ...phase1,
        latency_events: latencies.length,
        p50_ms: quantile(latencies, 0.5),
        p99_ms: quantile(latencies, 0.99),
        latency_cpu_ms_per_event: latencyCpu,
        workers: opts.workers,
      };
      printResult(result, opts.json);
      return result;
    } finally {
      await ch.close();
    }
  });
}
