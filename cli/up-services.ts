/**
 * The processes `up` starts: N scorer workers, the API and the label sink as children in their
 * own process groups, their /health awaited before anything is replayed, and one way to stop them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../lib/config.ts';
import { SERVICE_NODE_FLAGS } from '../lib/node-flags.ts';
import { forwardOutput } from './up-output.ts';

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));

export interface Service {
  name: string;
  url: string;
  child: ChildProcess;
}

/** Polls a service's /health until it answers 200, its process exits, or time runs out. */
async function waitHealthy(
  url: string,
  child: ChildProcess,
  timeoutMs = 60_000,
): Promise<'ready' | 'exited' | 'timed out'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return 'exited';
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return 'ready';
    await new Promise((r) => setTimeout(r, 300));
  }
  return 'timed out';
}

/** Starts the workers (on the worker port and the ones after it) and the API. */
export function startServices(
  cfg: Config,
  env: NodeJS.ProcessEnv,
  workers: number,
  pretty: boolean,
  opts: { autopilot?: boolean } = {},
) {
  const start = (name: string, command: string, childEnv: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, BIN, command], {
      env: childEnv,
      stdio: ['ignore', pretty ? 'pipe' : 'inherit', pretty ? 'pipe' : 'inherit'],
      // Own process group: a terminal's Ctrl-C reaches `up` alone, which then sends one
      // SIGTERM (a second signal would make the child exit at once, unstored work and all).
      detached: true,
    });
    if (pretty) forwardOutput(child, name, { colorize: Boolean(process.stderr.isTTY) });
    return child;
  };
  const local = cfg.apiHost === '0.0.0.0' ? '127.0.0.1' : cfg.apiHost;
  const services: Service[] = Array.from({ length: workers }, (_, i) => ({
    name: `worker ${i + 1} (HITSTREAM_WORKER_PORT ${cfg.workerPort + i})`,
    url: `http://127.0.0.1:${cfg.workerPort + i}/health`,
    child: start(`worker-${i + 1}`, 'worker', { ...env, HITSTREAM_WORKER_PORT: String(cfg.workerPort + i) }),
  }));
  services.push({
    name: `API (HITSTREAM_API_PORT ${cfg.apiPort})`,
    url: `http://${local}:${cfg.apiPort}/health`,
    child: start('api', 'api', env),
  });
  if (opts.autopilot) {
    const host = cfg.autopilotHost === '0.0.0.0' ? '127.0.0.1' : cfg.autopilotHost;
    services.push({
      name: `autopilot (HITSTREAM_AUTOPILOT_PORT ${cfg.autopilotPort})`,
      url: `http://${host}:${cfg.autopilotPort}/health`,
      child: start('autopilot', 'autopilot', env),
    });
  }
  // Stores the labels topic; it serves no HTTP, so its exit is its only signal (said by `up`).
  const labelSink = start('label-sink', 'label-sink', env);
  const children = [...services.map((s) => s.child), labelSink];
  return {
    services,
    children,
    workerPorts: services.slice(0, workers).map((_, i) => cfg.workerPort + i),
    /** Where the API answers from this machine. */
    apiBase: `http://${local}:${cfg.apiPort}`,
    running: () => children.filter((c) => c.exitCode === null && c.signalCode === null),
  };
}

/**
 * Every service's /health before the replay: a worker or an API that could not start (a port in
 * use, a bad setting) is named, with its own error above. Returns the lines for those that failed.
 */
export async function failedToStart(services: readonly Service[]): Promise<string[]> {
  const states = await Promise.all(services.map((x) => waitHealthy(x.url, x.child)));
  return services.flatMap((x, i) =>
    states[i] === 'ready'
      ? []
      : [
          `${x.name} ${states[i] === 'exited' ? 'exited' : 'did not become healthy in 60 s'}; its log is above`,
        ],
  );
}

/** SIGTERM to each running child, resolved when all have exited. */
export const terminate = (children: readonly ChildProcess[]) =>
  Promise.all(children.map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
