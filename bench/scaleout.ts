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

interface Row {
  workers: number;
  events: number;
  stored_seconds: number;
  workers_cpu_ms_per_event: number;
  per_worker_cpu_ms_per_event: number;
  host_cpu_pct: unknown;
}

export async function benchScaleout(
  base: Config,
  opts: { data: string; counts: number[]; rate: number; seconds: number; json?: boolean },
) {
  const rows: Row[] = [];
  for (const n of opts.counts) {
    if (n > base.tracksPartitions)
      say(`${n} workers > ${base.tracksPartitions} partitions: ${n - base.tracksPartitions} will sit idle`);
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
          if (Number((await rs.json<{ n: string }>())[0]?.n) >= replay.sent * 4) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        const stored = (performance.now() - t0) / 1000;
        const cpu = window(replay.sent);
        const workersMs = Number(cpu.perEvent.workers ?? cpu.perEvent.worker1 ?? 0);
        return {
          workers: n,
          events: replay.sent,
          stored_seconds: Math.round(stored * 10) / 10,
          workers_cpu_ms_per_event: workersMs,
          per_worker_cpu_ms_per_event: Math.round((workersMs / n) * 1000) / 1000,
          host_cpu_pct: cpu.hostPct,
        };
      } finally {
        await publisher.close();
        await ch.close();
      }
    });
    say(JSON.stringify(row));
    rows.push(row);
  }
  const one = rows[0]!;
  printResult(
    {
      rate: opts.rate,
      seconds: opts.seconds,
      runs: rows,
      // Flat is 1.0: the same CPU per event however many workers share the stream.
      workers_cpu_per_event_ratio_to_first: rows.map(
        (r) => Math.round((r.workers_cpu_ms_per_event / one.workers_cpu_ms_per_event) * 100) / 100,
      ),
    },
    opts.json,
  );
}
