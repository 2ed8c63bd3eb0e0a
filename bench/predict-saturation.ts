/**
 * `hitstream bench predict --saturate`: one API process of its own, driven by autocannon on the
 * same machine, twice in one run: each request scored alone (HITSTREAM_PREDICT_BATCH_MAX=1, as
 * before dynamic batching) and batched (the setting's value). For each: requests/s at
 * --connections open connections (closed loop, saturation), then p50/p99 at a fixed --rate, and
 * the API's CPU ms per request; then the ratios.
 */
import autocannon from 'autocannon';
import type { Config } from '../lib/config.ts';
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { cpuFigures, freePort, type IsolatedStack, say, withIsolatedStack } from './isolated-stack.ts';
import { printResult } from './report.ts';

interface SaturationOptions {
  connections: number;
  seconds: number;
  rate: number;
  data: string;
  json?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function bodiesOf(data: string) {
  const { tracks } = await loadKaggleCsv(data, { limit: 1000 });
  return tracks.map(
    ({ track_id: _id, artists: _a, album_name: _al, track_name: _t, popularity: _p, ...features }) =>
      JSON.stringify(features),
  );
}

/** autocannon against /predict, the bodies in turn; `rate` fixes the overall rate (else closed loop). */
function load(url: string, bodies: string[], opts: { connections: number; seconds: number; rate?: number }) {
  let i = 0;
  return autocannon({
    url: `${url}/predict`,
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.rate ? { overallRate: opts.rate } : {}),
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
      },
    ],
  });
}

async function startApi(stack: IsolatedStack, batchMax: number) {
  const port = await freePort();
  const api = stack.spawn('api', {
    apiHost: '127.0.0.1',
    apiPort: port,
    rateLimitPerSecond: 0, // one client sends them all
    predictBatchMax: batchMax,
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (api.exitCode !== null) throw new Error(`the API exited (${api.exitCode}) before it was ready`);
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 240) throw new Error('the API did not become ready within 120 s');
    await sleep(500);
  }
  return { url, stop: () => new Promise((r) => (api.once('exit', r), api.kill('SIGTERM'))) };
}

/** One API setting: saturation, then the fixed rate; its figures. */
async function phase(stack: IsolatedStack, bodies: string[], batchMax: number, opts: SaturationOptions) {
  const api = await startApi(stack, batchMax);
  try {
    await load(api.url, bodies, { connections: opts.connections, seconds: 3 }); // warm-up
    let window = stack.cpuWindow();
    const sat = await load(api.url, bodies, { connections: opts.connections, seconds: opts.seconds });
    const satCpu = cpuFigures(window(sat.requests.total));
    window = stack.cpuWindow();
    const fixed = await load(api.url, bodies, {
      connections: opts.connections,
      seconds: opts.seconds,
      rate: opts.rate,
    });
    const fixedCpu = cpuFigures(window(fixed.requests.total));
    const out = {
      batch_max: batchMax,
      requests_per_second: Math.round(sat.requests.average),
      saturated_p50_ms: sat.latency.p50,
      saturated_p99_ms: sat.latency.p99,
      errors: sat.errors + sat.non2xx + fixed.errors + fixed.non2xx,
      saturated_cpu_ms_per_request: satCpu.cpu_ms_per_event,
      [`at_${opts.rate}_rps_p50_ms`]: fixed.latency.p50,
      [`at_${opts.rate}_rps_p99_ms`]: fixed.latency.p99,
      at_rate_requests_per_second: Math.round(fixed.requests.average),
      at_rate_cpu_ms_per_request: fixedCpu.cpu_ms_per_event,
      host_cpu_pct: satCpu.host_cpu_pct,
    };
    say(
      `batch max ${batchMax}: ${out.requests_per_second} requests/s saturated (p99 ${out.saturated_p99_ms} ms); at ${opts.rate}/s p99 ${fixed.latency.p99} ms`,
    );
    return out;
  } finally {
    await api.stop();
  }
}

export async function benchPredictSaturation(base: Config, opts: SaturationOptions) {
  const bodies = await bodiesOf(opts.data);
  return withIsolatedStack(base, 0, async (stack) => {
    const alone = await phase(stack, bodies, 1, opts);
    const batched = await phase(stack, bodies, base.predictBatchMax, opts);
    const result = {
      connections: opts.connections,
      seconds: opts.seconds,
      alone,
      batched,
      requests_per_second_ratio:
        Math.round((batched.requests_per_second / alone.requests_per_second) * 100) / 100,
      [`p99_ratio_at_${opts.rate}_rps`]:
        Math.round(
          ((batched[`at_${opts.rate}_rps_p99_ms`] as number) /
            (alone[`at_${opts.rate}_rps_p99_ms`] as number)) *
            100,
        ) / 100,
    };
    printResult(result, opts.json);
    return result;
  });
}
