/**
 * `hitstream bench feed`: N WebSocket clients on the API's /feed while events are replayed at a
 * fixed rate through workers → predictions topic → API → clients, on fresh topics and tables.
 * Prints prediction → client latency (from the worker's `scored_at` to the client's receipt; all
 * on one machine, one clock), event → client latency, and messages the hub dropped.
 * Latency percentiles are of the steady state: the first `warmupSeconds` of the replay (JIT,
 * first fetches; p99 there was 250–330 ms against ~110 ms after) are reported on their own.
 */
import { createServer } from 'node:net';
import WebSocket from 'ws';
import type { Config } from '../lib/config.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { quantile, say, withIsolatedStack } from './isolated-stack.ts';

const SCORED_AT = /"scored_at":"([^"]+)"/;
const EVENT_TIME = /"event_time":"([^"]+)"/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

interface ClientStats {
  received: number;
  missed: number;
  /** Receipt time of each prediction (ms since the epoch), and its two latencies. */
  at: number[];
  fromScore: number[];
  fromEvent: number[];
}

function connect(url: string, stats: ClientStats, measuring: () => boolean): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    ws.on('message', (data: Buffer) => {
      const now = Date.now();
      const text = data.toString('utf8');
      // Twenty clients share this one process: read the two timestamps of a prediction without
      // parsing all of it, so the measuring side does not become the bottleneck it measures.
      if (text.startsWith('{"type":"prediction"')) {
        if (!measuring()) return;
        stats.received++;
        stats.at.push(now);
        stats.fromScore.push(now - Date.parse(SCORED_AT.exec(text)?.[1] ?? ''));
        stats.fromEvent.push(now - Date.parse(EVENT_TIME.exec(text)?.[1] ?? ''));
        return;
      }
      const m = JSON.parse(text) as { type: 'missed'; count: number } | { type: 'hello' };
      if (m.type === 'hello') resolve(ws);
      else if (m.type === 'missed' && measuring()) stats.missed += m.count;
    });
  });
}

export async function benchFeed(
  base: Config,
  opts: {
    data: string;
    clients: number;
    rate: number;
    seconds: number;
    warmupSeconds: number;
    workers: number;
    json?: boolean;
  },
) {
  const port = await freePort();
  return withIsolatedStack(base, opts.workers, async (stack) => {
    const api = stack.spawn('api', { apiHost: '127.0.0.1', apiPort: port });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (api.exitCode !== null) throw new Error(`the API exited (${api.exitCode}) before it was ready`);
      const health = await fetch(`${url}/health`)
        .then((r) => r.json() as Promise<{ kafka?: boolean }>)
        .catch(() => undefined);
      if (health?.kafka) break;
      if (i > 240) throw new Error('the API did not become ready within 120 s');
      await sleep(500);
    }
    let measuring = false;
    const stats: ClientStats[] = Array.from({ length: opts.clients }, () => ({
      received: 0,
      missed: 0,
      at: [],
      fromScore: [],
      fromEvent: [],
    }));
    const sockets = await Promise.all(
      stats.map((s) => connect(`ws://127.0.0.1:${port}/feed`, s, () => measuring)),
    );
    say(
      `${opts.clients} clients connected; replaying ${opts.rate} events/s for ${opts.warmupSeconds} s of warm-up + ${opts.seconds} s`,
    );
    const publisher = await createPublisher(stack.cfg, 'bench-feed');
    measuring = true;
    const steadyFrom = Date.now() + opts.warmupSeconds * 1000;
    const replay = await replayCsv(publisher, {
      path: opts.data,
      rate: opts.rate,
      limit: Math.round(opts.rate * (opts.warmupSeconds + opts.seconds)),
      loop: true,
      quiet: true,
    });
    // Let the last predictions reach every client before counting.
    const expected = replay.sent * opts.clients;
    for (let i = 0; i < 100; i++) {
      const got = stats.reduce((a, s) => a + s.received + s.missed, 0);
      if (got >= expected) break;
      await sleep(100);
    }
    measuring = false;
    for (const ws of sockets) ws.close();
    await publisher.close();
    const pick = (key: 'fromScore' | 'fromEvent', steady: boolean) =>
      stats.flatMap((s) => s[key].filter((_, i) => s.at[i]! >= steadyFrom === steady)).sort((a, b) => a - b);
    const fromScore = pick('fromScore', true);
    const fromEvent = pick('fromEvent', true);
    const warmup = pick('fromScore', false);
    const result = {
      clients: opts.clients,
      rate: opts.rate,
      events: replay.sent,
      messages_expected: expected,
      messages_received: fromScore.length + warmup.length,
      dropped: stats.reduce((a, s) => a + s.missed, 0),
      p50_ms: quantile(fromScore, 0.5),
      p99_ms: quantile(fromScore, 0.99),
      max_ms: fromScore.at(-1) ?? NaN,
      event_to_client_p50_ms: quantile(fromEvent, 0.5),
      event_to_client_p99_ms: quantile(fromEvent, 0.99),
      warmup_seconds: opts.warmupSeconds,
      warmup_p50_ms: quantile(warmup, 0.5),
      warmup_p99_ms: quantile(warmup, 0.99),
      workers: opts.workers,
    };
    if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else for (const [k, v] of Object.entries(result)) process.stdout.write(`${k.padEnd(24)} ${v}\n`);
    return result;
  });
}
