/**
 * `hitstream bench soak`: replays a CSV in a loop at a fixed rate for N minutes through real
 * workers and samples each worker's resident memory, to show whether it stays flat. Prints one
 * line per sample and a summary: first and last minute's mean RSS and their ratio per worker.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../lib/config.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { say, withIsolatedStack } from './isolated-stack.ts';

/** Resident set size of a process in MiB, from /proc (Linux). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export async function benchSoak(
  base: Config,
  opts: {
    data: string;
    minutes: number;
    rate: number;
    workers: number;
    sampleSeconds: number;
    json?: boolean;
  },
) {
  return withIsolatedStack(base, opts.workers, async (stack) => {
    const pids = stack.workers.map((w) => w.pid!);
    const publisher = await createPublisher(stack.cfg, 'bench-soak');
    const stop = new AbortController();
    const seconds = opts.minutes * 60;
    say(
      `${opts.workers} workers; replaying ${opts.data} in a loop at ${opts.rate} events/s for ${opts.minutes} min`,
    );
    const replay = replayCsv(publisher, {
      path: opts.data,
      rate: opts.rate,
      loop: true,
      quiet: true,
      signal: stop.signal,
    });
    const samples: { t: number; rss: number[] }[] = [];
    const t0 = performance.now();
    while ((performance.now() - t0) / 1000 < seconds) {
      await new Promise((r) => setTimeout(r, opts.sampleSeconds * 1000));
      const t = Math.round((performance.now() - t0) / 1000);
      const rss = pids.map(rssMb);
      samples.push({ t, rss });
      const eta = Math.max(0, seconds - t);
      say(`t=${t}s rss MiB ${rss.map((r) => r.toFixed(0)).join(' / ')} (ETA ${eta} s)`);
    }
    stop.abort();
    const sent = (await replay).sent;
    await publisher.close();
    const window = Math.max(1, Math.round(60 / opts.sampleSeconds));
    const perWorker = pids.map((_, w) => {
      const series = samples.map((s) => s.rss[w]!);
      const first = mean(series.slice(0, window));
      const last = mean(series.slice(-window));
      return {
        first_minute_mb: Math.round(first),
        last_minute_mb: Math.round(last),
        max_mb: Math.round(Math.max(...series)),
        ratio: Math.round((last / first) * 100) / 100,
      };
    });
    const result = { minutes: opts.minutes, rate: opts.rate, events: sent, workers: perWorker };
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(`events sent ${sent} in ${opts.minutes} min at ${opts.rate}/s\n`);
      perWorker.forEach((w, i) =>
        process.stdout.write(
          `worker ${i + 1}: first minute ${w.first_minute_mb} MiB, last minute ${w.last_minute_mb} MiB (×${w.ratio}), max ${w.max_mb} MiB\n`,
        ),
      );
    }
    return result;
  });
}
