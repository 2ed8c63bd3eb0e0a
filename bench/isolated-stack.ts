/**
 * What the end-to-end benches share: fresh topics and a fresh database (random names) on the
 * running stack, N scorer workers as child processes that have joined their group, and clean-up
 * of all of it afterwards, whatever happens.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpuMsPerEvent, cpuSnapshot, hostCpuPct, hostSnapshot } from './cpu-usage.ts';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Config, configToEnv } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createAdmin, ensureTopics } from '../lib/kafka.ts';
import { SERVICE_NODE_FLAGS } from '../lib/node-flags.ts';
import { ident, sql } from '../lib/sql.ts';
import { migrate } from '../infra/migrate.ts';

export const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));
export const say = (m: string) => process.stderr.write(`bench: ${m}\n`);

/** Polls `url` until it answers 2xx; fails naming it after `timeoutMs`. */
export async function waitFor(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${url} did not answer in ${timeoutMs / 1000} s`);
}

/** A loopback port that is free now (for a child API the bench starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export interface CpuWindowResult {
  perEvent: ReturnType<typeof cpuMsPerEvent>;
  hostPct: ReturnType<typeof hostCpuPct>;
}

/** A CPU window's figures as result fields: `cpu_ms_per_event` and `host_cpu_pct`, prefixed. */
export function cpuFigures<P extends string = ''>(w: CpuWindowResult, prefix = '' as P) {
  return {
    [`${prefix}cpu_ms_per_event`]: w.perEvent,
    [`${prefix}host_cpu_pct`]: w.hostPct,
  } as Record<`${P}cpu_ms_per_event`, CpuWindowResult['perEvent']> &
    Record<`${P}host_cpu_pct`, CpuWindowResult['hostPct']>;
}

export interface IsolatedStack {
  cfg: Config;
  /** Environment for a child `hitstream` process that should use this stack's topics and tables. */
  env: NodeJS.ProcessEnv;
  /** The scorer worker processes, already in their group. */
  workers: ChildProcess[];
  spawn(command: 'worker' | 'api' | 'label-sink', extra?: Partial<Config>): ChildProcess;
  /**
   * Starts counting CPU time (`cpu-usage.ts`); the result gives CPU ms per event per process
   * since then, and how busy the whole machine was meanwhile.
   */
  cpuWindow: (others?: Record<string, number | undefined>) => (events: number) => CpuWindowResult;
}

export async function withIsolatedStack<T>(
  base: Config,
  workers: number,
  run: (stack: IsolatedStack) => Promise<T>,
): Promise<T> {
  const id = `bench_${randomUUID().slice(0, 8)}`;
  const cfg: Config = {
    ...base,
    clickhouseDatabase: id,
    topicTracks: `${id}.tracks`,
    topicPredictions: `${id}.predictions`,
    topicDeadLetters: `${id}.dead`,
    // Roles of its own: the bench's workers must not follow (or be moved by) the real pipeline's.
    topicModels: `${id}.models`,
    topicLabels: `${id}.labels`,
    consumerGroup: `${id}-scorers`,
  };
  await migrate(cfg);
  await ensureTopics(cfg);
  const children: ChildProcess[] = [];
  const named: Record<string, number | undefined> = {};
  let workerCount = 0;
  const envFor = (extra: Partial<Config> = {}) => ({
    ...process.env,
    ...configToEnv({ ...cfg, workerPort: 0, ...extra }),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const stack: IsolatedStack = {
    cfg,
    env: envFor(),
    workers: [],
    spawn(command, extra) {
      // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the children.
      const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
      const name = command === 'worker' ? `worker${++workerCount}` : command;
      // BENCH_LOG_DIR keeps each child's log (with LOG_LEVEL=debug, a worker's per-batch timings).
      const logDir = process.env.BENCH_LOG_DIR;
      const log = logDir ? openSync(join(logDir, `${name}.log`), 'a') : undefined;
      const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...nodeArgs, BIN, command], {
        env: envFor(extra),
        stdio: ['ignore', log ?? 'ignore', log ?? 'inherit'],
      });
      if (log !== undefined) closeSync(log);
      children.push(child);
      named[name] = child.pid;
      return child;
    },
    cpuWindow(others = {}) {
      const pids = { ...named, ...others };
      const before = cpuSnapshot(cfg, pids);
      const hostBefore = hostSnapshot();
      return (events) => ({
        perEvent: cpuMsPerEvent(before, cpuSnapshot(cfg, pids), events),
        hostPct: hostCpuPct(hostBefore, hostSnapshot()),
      });
    },
  };
  // Stops the children and drops the bench's database and topics; run once, by the end of the
  // bench or by Ctrl-C / SIGTERM (which would otherwise leave workers and data behind).
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => (cleaning ??= removeAll());
  async function removeAll(): Promise<void> {
    // Workers finish and commit before their topics go (else kafkajs logs errors about them).
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => (c.kill('SIGKILL'), resolve()), 30_000);
            c.once('exit', () => (clearTimeout(timer), resolve()));
            c.kill('SIGTERM');
          }),
      ),
    );
    // A long run leaves GBs of parts; dropping them can take minutes on a busy server. A database
    // left behind makes every later ClickHouse start slower, so a failure is said, not swallowed.
    const ch = createClickhouse(cfg, { database: null, timeoutMs: 600_000 });
    await ch
      .command({ query: sql`DROP DATABASE IF EXISTS ${ident(id)}` })
      .catch((err: unknown) =>
        say(`could not drop database ${id} (${String(err)}); drop it by hand: DROP DATABASE ${id}`),
      );
    await ch.close();
    const admin = createAdmin(cfg, 'bench-cleanup');
    await admin
      .deleteTopics({
        topics: [
          cfg.topicTracks,
          cfg.topicPredictions,
          cfg.topicDeadLetters,
          cfg.topicModels,
          cfg.topicLabels,
        ],
      })
      .catch(() => undefined);
    await admin.close().catch(() => undefined);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping the bench's workers and dropping ${id} (its database and topics)`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (let i = 0; i < workers; i++) stack.workers.push(stack.spawn('worker'));
    // Wait until the group has all its members, so no clock times worker start-up.
    const admin = createAdmin(cfg, 'bench');
    for (let i = 0; workers > 0 && i < 240; i++) {
      const group = (await admin.describeGroups({ groups: [cfg.consumerGroup] })).get(cfg.consumerGroup);
      if ((group?.members.size ?? 0) >= workers && String(group?.state).toUpperCase() === 'STABLE') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await admin.close();
    return await run(stack);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanUp();
  }
}
