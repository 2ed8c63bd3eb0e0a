/**
 * `hitstream bench explain`: what explanations cost, in one run.
 * - POST /explain on one API process of its own, one request at a time: p50/p99 for all five
 *   scores, and the API's CPU ms per request.
 * - The workers' CPU per event replaying at --rate with sampling off, at --sample within the
 *   default budget (HITSTREAM_EXPLAIN_BUDGET), and at --sample with no budget (every sampled
 *   event explained), each on a stack of its own; the ratios to "off", and how many events were
 *   explained.
 */
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import {
  cpuFigures,
  freePort,
  type IsolatedStack,
  say,
  waitFor,
  withIsolatedStack,
} from './isolated-stack.ts';
import { printResult, quantile } from './report.ts';

interface ExplainBenchOptions {
  data: string;
  requests: number;
  rate: number;
  seconds: number;
  sample: number;
  workers: number;
  json?: boolean;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** POST /explain, one request at a time, on an API of the stack's own. */
async function explainLatency(stack: IsolatedStack, opts: ExplainBenchOptions) {
  const { tracks } = await loadKaggleCsv(opts.data, { limit: opts.requests + 10 });
  const bodies = tracks.map(
    ({ track_id: _id, album_name: _al, track_name: _t, popularity: _p, ...features }) =>
      JSON.stringify(features),
  );
  const port = await freePort();
  const api = stack.spawn('api', { apiHost: '127.0.0.1', apiPort: port, rateLimitPerSecond: 0 });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/health`, 120_000);
  const post = (body: string) =>
    fetch(`${url}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
      async (r) => {
        if (!r.ok) throw new Error(`POST /explain: ${r.status} ${await r.text()}`);
        return (await r.json()) as { explain_ms: number };
      },
    );
  for (const body of bodies.slice(0, 10)) await post(body); // warm-up: trees built, JIT
  const window = stack.cpuWindow();
  const latencies: number[] = [];
  for (const body of bodies.slice(10, 10 + opts.requests)) {
    const t0 = performance.now();
    await post(body);
    latencies.push(performance.now() - t0);
  }
  const cpu = cpuFigures(window(latencies.length));
  latencies.sort((a, b) => a - b);
  await new Promise((r) => (api.once('exit', r), api.kill('SIGTERM')));
  return {
    requests: latencies.length,
    p50_ms: round(quantile(latencies, 0.5)),
    p99_ms: round(quantile(latencies, 0.99)),
    api_cpu_ms_per_request: cpu.cpu_ms_per_event.api,
  };
}

/** Replays at the rate for the seconds; the workers' CPU per event and what was explained. */
async function workersPhase(stack: IsolatedStack, opts: ExplainBenchOptions) {
  const publisher = await createPublisher(stack.cfg);
  const ch = createClickhouse(stack.cfg);
  const count = async (q: string) =>
    Number((await (await ch.query({ query: q, format: 'JSONEachRow' })).json<{ n: string }>())[0]?.n ?? 0);
  try {
    await replayCsv(publisher, { path: opts.data, limit: 500, rate: opts.rate, quiet: true }); // warm-up
    await new Promise((r) => setTimeout(r, 3000));
    const window = stack.cpuWindow();
    const before = await count('SELECT count() AS n FROM track_events');
    const sent = await replayCsv(publisher, {
      path: opts.data,
      limit: Math.round(opts.rate * opts.seconds),
      rate: opts.rate,
      loop: true,
      quiet: true,
    });
    await new Promise((r) => setTimeout(r, 2000)); // the last batches stored
    const events = (await count('SELECT count() AS n FROM track_events')) - before;
    const figures = cpuFigures(window(events));
    await new Promise((r) => setTimeout(r, 3000)); // explanations are written every 2 s
    const explained = await count('SELECT uniqExact(event_id) AS n FROM explanations');
    return {
      events: sent.sent,
      workers_cpu_ms_per_event: figures.cpu_ms_per_event.workers ?? 0,
      explained_events: explained,
      host_cpu_pct: figures.host_cpu_pct,
    };
  } finally {
    await publisher.close();
    await ch.close();
  }
}

export async function benchExplain(base: Config, opts: ExplainBenchOptions) {
  say(`POST /explain: ${opts.requests} requests, one at a time, on one API process`);
  const api = await withIsolatedStack({ ...base, explainSample: 0 }, 0, (stack) =>
    explainLatency(stack, opts),
  );
  say(`/explain p50 ${api.p50_ms} ms, p99 ${api.p99_ms} ms`);
  const phases = {
    off: { explainSample: 0, explainBudget: base.explainBudget },
    [`sample_${opts.sample}_budget_${base.explainBudget}`]: {
      explainSample: opts.sample,
      explainBudget: base.explainBudget,
    },
    [`sample_${opts.sample}_no_budget`]: { explainSample: opts.sample, explainBudget: 100 },
  };
  const workers: Record<string, Awaited<ReturnType<typeof workersPhase>>> = {};
  for (const [name, settings] of Object.entries(phases)) {
    say(`workers, ${name}: ${opts.workers} workers, ${opts.rate} events/s for ${opts.seconds} s`);
    workers[name] = await withIsolatedStack({ ...base, ...settings }, opts.workers, (stack) =>
      workersPhase(stack, opts),
    );
    say(
      `${name}: workers ${workers[name].workers_cpu_ms_per_event} CPU ms/event, ${workers[name].explained_events} events explained`,
    );
  }
  const off = workers.off!.workers_cpu_ms_per_event;
  const result = {
    explain: api,
    workers,
    workers_cpu_ratio_to_off: Object.fromEntries(
      Object.entries(workers).map(([k, w]) => [k, off ? round(w.workers_cpu_ms_per_event / off, 2) : null]),
    ),
  };
  printResult(result, opts.json);
  return result;
}
