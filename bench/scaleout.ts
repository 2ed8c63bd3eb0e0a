/**
 * `hitstream bench scaleout`: CPU ms per event of the workers with 1, 2 and 4 of them, in one run,
 * at the same fixed rate. Scoring is per event, so the workers' CPU per event should stay flat
 * as they are added (up to the tracks topic's partitions); a rise is coordination cost (more
 * fetches, smaller batches, more inserts). Prints one line per worker count and the ratios to 1.
 */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { say, withIsolatedStack } from './isolated-stack.ts';
import { printResult } from './report.ts';
import { scoreNamesOf } from '../models/model-set.ts';

interface Row {
  fetch_wait_ms: number;
  workers: number;
  events: number;
  stored_seconds: number;
  workers_cpu_ms_per_event: number;
  per_worker_cpu_ms_per_event: number;
  host_cpu_pct: unknown;
  latency_p50_ms: number;
  latency_p99_ms: number;
}

export async function benchScaleout(
  base: Config,
  opts: {
    data: string;
    counts: number[];
    rate: number;
    seconds: number;
    fetchWaits?: number[];
    json?: boolean;
  },
) {
  const rows: Row[] = [];
  const waits = opts.fetchWaits?.length ? opts.fetchWaits : [base.fetchWaitMs];
  for (const n of opts.counts)
    for (const wait of waits) {
      if (n > base.tracksPartitions)
        say(`${n} workers > ${base.tracksPartitions} partitions: ${n - base.tracksPartitions} will sit idle`);
      rows.push(await runOnce({ ...base, fetchWaitMs: wait }, n, opts));
    }
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const first = rows.filter((r) => r.fetch_wait_ms === waits[0]);
  printResult(
    {
      rate: opts.rate,
      seconds: opts.seconds,
      runs: rows,
      // Flat is 1.0: the same CPU per event however many workers share the stream.
      workers_cpu_per_event_ratio_to_first: Object.fromEntries(
        waits.map((w) => {
          const runs = rows.filter((r) => r.fetch_wait_ms === w);
          return [
            `fetch_wait_${w}ms`,
            runs.map((r) => ratio(r.workers_cpu_ms_per_event, runs[0]!.workers_cpu_ms_per_event)),
          ];
        }),
      ),
      ...(waits.length > 1
        ? {
            // Per worker count: each later wait against the first, CPU per event and p50 latency.
            against_first_wait: rows
              .filter((r) => r.fetch_wait_ms !== waits[0])
              .map((r) => {
                const base = first.find((f) => f.workers === r.workers)!;
                return {
                  workers: r.workers,
                  fetch_wait_ms: `${r.fetch_wait_ms} vs ${base.fetch_wait_ms}`,
                  cpu_per_event_ratio: ratio(r.workers_cpu_ms_per_event, base.workers_cpu_ms_per_event),
                  latency_p50_ratio: ratio(r.latency_p50_ms, base.latency_p50_ms),
                };
              }),
          }
        : {}),
    },
    opts.json,
  );
}

async function runOnce(
  base: Config,
  n: number,
  opts: { data: string; rate: number; seconds: number },
): Promise<Row> {
  const row = await withIsolatedStack(base, n, async ({ cfg, cpuWindow }) => {
    const ch = createClickhouse(cfg);
    const publisher = await createPublisher(cfg, 'bench');
    try {
      const limit = Math.round(opts.rate * opts.seconds);
      say(`${n} worker(s) joined; ${limit} events at ${opts.rate}/s`);
      const window = cpuWindow();
      const t0 = performance.now();
      const replay = await replayCsv(publisher, {
        path: opts.data,
        rate: opts.rate,
        limit,
        loop: true,
        quiet: true,
      });
      for (;;) {
        const rs = await ch.query({ query: 'SELECT count() AS n FROM predictions', format: 'JSONEachRow' });
        if (Number((await rs.json<{ n: string }>())[0]?.n) >= replay.sent * scoreNamesOf().length) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const stored = (performance.now() - t0) / 1000;
      const cpu = window(replay.sent);
      const [lat] = await (
        await ch.query({
          query:
            "SELECT quantile(0.5)(latency_ms) AS p50, quantile(0.99)(latency_ms) AS p99 FROM predictions WHERE model = 'rf'",
          format: 'JSONEachRow',
        })
      ).json<{ p50: number; p99: number }>();
      const workersMs = Number(cpu.perEvent.workers ?? cpu.perEvent.worker1 ?? 0);
      return {
        fetch_wait_ms: cfg.fetchWaitMs,
        workers: n,
        events: replay.sent,
        stored_seconds: Math.round(stored * 10) / 10,
        workers_cpu_ms_per_event: workersMs,
        per_worker_cpu_ms_per_event: Math.round((workersMs / n) * 1000) / 1000,
        host_cpu_pct: cpu.hostPct,
        latency_p50_ms: Math.round(Number(lat?.p50)),
        latency_p99_ms: Math.round(Number(lat?.p99)),
      };
    } finally {
      await publisher.close();
      await ch.close();
    }
  });
  say(JSON.stringify(row));
  return row;
}
