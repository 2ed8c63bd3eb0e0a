/**
 * `hitstream bench predict`: POST /predict at a fixed rate against a running API (e.g. the one
 * `npm start` serves) and print p50/p99 latency as the client sees it.
 */
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { hostCpuPct, hostSnapshot } from './cpu-usage.ts';
import { printResult, quantile } from './report.ts';

export async function benchPredict(opts: {
  url: string;
  rate: number;
  seconds: number;
  data: string;
  json?: boolean;
}) {
  const { tracks } = await loadKaggleCsv(opts.data, { limit: 1000 });
  const bodies = tracks.map(
    ({ track_id: _id, artists: _a, album_name: _al, track_name: _t, popularity: _p, ...features }) =>
      JSON.stringify(features),
  );
  // Warm-up requests are not measured: the first ones pay for connection set-up.
  for (const body of bodies.slice(0, 20))
    await fetch(`${opts.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    }).then((r) => r.arrayBuffer());
  const latencies: number[] = [];
  let errors = 0;
  const total = Math.round(opts.rate * opts.seconds);
  const t0 = performance.now();
  const hostBefore = hostSnapshot();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const start = performance.now();
    inFlight.push(
      fetch(`${opts.url}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[i % bodies.length],
      })
        .then(async (r) => {
          await r.arrayBuffer();
          if (r.ok) latencies.push(performance.now() - start);
          else errors++;
        })
        .catch(() => void errors++),
    );
  }
  await Promise.all(inFlight);
  const host = hostCpuPct(hostBefore, hostSnapshot());
  latencies.sort((a, b) => a - b);
  const result = {
    requests: total,
    errors,
    rate: opts.rate,
    p50_ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
    p99_ms: Math.round(quantile(latencies, 0.99) * 10) / 10,
    // How busy the machine was meanwhile (`cpu-usage.ts`): high steal means a slower machine.
    host_cpu_pct: host,
  };
  printResult(result, opts.json, 12);
  return result;
}
