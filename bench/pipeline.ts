/**
 * `hitstream bench pipeline`: the full dataset through the real stack. Phase 1 replays the file
 * at full speed into empty topics and tables and times it until every prediction row is stored;
 * phase 2 replays at a fixed 1,000 events/s and measures event → predictions-topic latency.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Config, configToEnv } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createKafka, ensureTopics } from '../lib/kafka.ts';
import { ident, sql } from '../lib/sql.ts';
import { migrate } from '../infra/migrate.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import type { ScoredEvent } from '../schemas/index.ts';

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));
const say = (m: string) => process.stderr.write(`bench: ${m}\n`);
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

export async function benchPipeline(
  base: Config,
  opts: { data: string; workers: number; json?: boolean; latencySeconds?: number },
) {
  const id = `bench_${randomUUID().slice(0, 8)}`;
  const cfg: Config = {
    ...base,
    clickhouseDatabase: id,
    topicTracks: `${id}.tracks`,
    topicPredictions: `${id}.predictions`,
    topicDeadLetters: `${id}.dead`,
    consumerGroup: `${id}-scorers`,
  };
  await migrate(cfg);
  await ensureTopics(cfg);
  const env = { ...process.env, ...configToEnv({ ...cfg, workerPort: 0 }), LOG_LEVEL: 'warn' };
  const workers: ChildProcess[] = Array.from({ length: opts.workers }, () =>
    spawn(process.execPath, [BIN, 'worker'], { env, stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  const ch = createClickhouse(cfg);
  const count = async (q: string) =>
    Number(
      Object.values(
        (await (await ch.query({ query: q, format: 'JSONEachRow' })).json<Record<string, string>>())[0] ?? {},
      )[0] ?? 0,
    );
  try {
    // Wait until the group has all its members, so the clock does not time worker start-up.
    const admin = createKafka(cfg, 'bench').admin();
    await admin.connect();
    for (let i = 0; i < 240; i++) {
      const { groups } = await admin.describeGroups([cfg.consumerGroup]);
      if ((groups[0]?.members.length ?? 0) >= opts.workers && groups[0]?.state === 'Stable') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await admin.disconnect();
    say(`${opts.workers} workers joined; phase 1: replaying ${opts.data} at full speed`);
    const publisher = await createPublisher(cfg, 'bench');
    const t0 = performance.now();
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
    };
    say(`phase 1: ${JSON.stringify(phase1)}`);

    say(
      `phase 2: 1,000 events/s for ${opts.latencySeconds ?? 20} s, measuring event → predictions-topic latency`,
    );
    const latencies: number[] = [];
    const consumer = createKafka(cfg, 'bench-latency').consumer({
      groupId: `${id}-latency`,
      maxWaitTimeInMs: 20,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: cfg.topicPredictions, fromBeginning: false });
    let measuring = false;
    await consumer.run({
      eachBatch: ({ batch }) => {
        const now = Date.now();
        if (measuring)
          for (const m of batch.messages)
            latencies.push(now - Date.parse((JSON.parse(m.value!.toString()) as ScoredEvent).event_time));
        return Promise.resolve();
      },
    });
    await new Promise((r) => setTimeout(r, 3000));
    measuring = true;
    const limit = 1000 * (opts.latencySeconds ?? 20);
    await replayCsv(publisher, { path: opts.data, rate: 1000, limit, quiet: true });
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
      workers: opts.workers,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(26)} ${v}\n`);
    return result;
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await ch.command({ query: sql`DROP DATABASE IF EXISTS ${ident(id)}` }).catch(() => undefined);
    await ch.close();
    const admin = createKafka(cfg, 'bench-cleanup').admin();
    await admin.connect();
    await admin
      .deleteTopics({ topics: [cfg.topicTracks, cfg.topicPredictions, cfg.topicDeadLetters] })
      .catch(() => undefined);
    await admin.disconnect();
  }
}
