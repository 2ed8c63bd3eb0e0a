/**
 * `hitstream bench feed`: N WebSocket clients on the API's /feed while events are replayed at a
 * fixed rate through workers → predictions topic → API → clients, on fresh topics and tables.
 * Prints prediction → client latency (from the worker's `scored_at` to the client's receipt; all
 * on one machine, one clock), event → client latency, and messages the hub dropped.
 * Latency percentiles are of the steady state: the first `warmupSeconds` of the replay (JIT,
 * first fetches; p99 there was 250–330 ms against ~110 ms after) are reported on their own.
 * The clients run in a child process of their own (`feed-clients.ts`), as browsers would.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config.ts';
import { SERVICE_NODE_FLAGS } from '../lib/node-flags.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import type { FromClients, ToClients } from './feed-clients.ts';
import { cpuFigures, freePort, say, withIsolatedStack } from './isolated-stack.ts';
import { printResult, quantile } from './report.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The clients' child process (`feed-clients.ts`), with the services' Node flags. */
function startClients(url: string, count: number, expectedPerClient: number) {
  const script = fileURLToPath(new URL('./feed-clients.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      ...SERVICE_NODE_FLAGS,
      '--import',
      import.meta.resolve('tsx'),
      script,
      url,
      String(count),
      String(expectedPerClient + 1024),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' },
  );
  return {
    pid: child.pid,
    send: (m: ToClients) => child.send(m),
    next: <T extends FromClients['type']>(type: T) =>
      new Promise<Extract<FromClients, { type: T }>>((resolve, reject) => {
        const onMessage = (m: FromClients) => {
          if (m.type !== type) return;
          child.off('message', onMessage);
          child.off('close', onClose);
          resolve(m as Extract<FromClients, { type: T }>);
        };
        // 'close', not 'exit': it comes after every message the child sent has been read.
        const onClose = (code: number | null) =>
          reject(new Error(`the feed clients exited (${code}) before '${type}'`));
        child.on('message', onMessage);
        child.once('close', onClose);
      }),
  };
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
    const clients = startClients(
      `ws://127.0.0.1:${port}/feed`,
      opts.clients,
      opts.rate * (opts.warmupSeconds + opts.seconds),
    );
    await clients.next('connected');
    say(
      `${opts.clients} clients connected; replaying ${opts.rate} events/s for ${opts.warmupSeconds} s of warm-up + ${opts.seconds} s`,
    );
    const publisher = await createPublisher(stack.cfg, 'bench-feed');
    clients.send({ type: 'start' });
    const steadyFrom = Date.now() + opts.warmupSeconds * 1000;
    let steadyCpu: ReturnType<typeof stack.cpuWindow> | undefined;
    const steadyTimer = setTimeout(
      () => (steadyCpu = stack.cpuWindow({ clients: clients.pid })),
      opts.warmupSeconds * 1000,
    );
    const replay = await replayCsv(publisher, {
      path: opts.data,
      rate: opts.rate,
      limit: Math.round(opts.rate * (opts.warmupSeconds + opts.seconds)),
      loop: true,
      quiet: true,
    });
    clearTimeout(steadyTimer);
    const cpu = steadyCpu?.(opts.rate * opts.seconds);
    // Let the last predictions reach every client before counting.
    const expected = replay.sent * opts.clients;
    for (let i = 0; i < 100; i++) {
      clients.send({ type: 'count' });
      if ((await clients.next('count')).got >= expected) break;
      await sleep(100);
    }
    clients.send({ type: 'stop' });
    const stats = (await clients.next('stats')).clients;
    await publisher.close();
    const pick = (key: 'fromScore' | 'fromEvent', steady: boolean) =>
      stats
        .flatMap((s) => Array.from(s[key]).filter((_, i) => s.at[i]! >= steadyFrom === steady))
        .sort((a, b) => a - b);
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
      ...(cpu ? cpuFigures(cpu) : {}),
      workers: opts.workers,
    };
    printResult(result, opts.json);
    return result;
  });
}
