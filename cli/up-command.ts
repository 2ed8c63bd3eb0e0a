/**
 * `hitstream up` (what `npm start` runs): the whole pipeline on one machine. Starts the native
 * stack unless KAFKA_BROKERS and CLICKHOUSE_URL point elsewhere, migrates, starts N scorer workers
 * and the API as child processes, replays the sample, and on Ctrl-C stops everything it started.
 */
import { HitstreamError } from '../lib/errors.ts';
import { STACK_CLUSTER, stackHasClickhouseCluster } from '../infra/stack/clickhouse-native.ts';
import { brokerList, kafkaNodes } from '../infra/stack/kafka-native.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createClickhouse } from '../lib/clickhouse.ts';
import { createLogger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { alertmanagerUrlOf, loadConfig, prometheusUrlOf } from '../lib/config.ts';
import { setLogDestination } from '../lib/logger.ts';
import { writeWorkerTargets } from '../infra/stack/monitoring-native.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { SERVICE_NODE_FLAGS } from '../lib/node-flags.ts';
import { migrate } from '../infra/migrate.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { stackDown, stackUp } from '../infra/stack/stack.ts';
import { createPublisher } from '../producers/publisher.ts';
import { replayCsv } from '../producers/replay.ts';
import { positive, positiveInteger } from './options.ts';
import { forwardOutput, NAME_WIDTH, prefixedStream } from './up-output.ts';
import { startStatusLine } from './up-status.ts';
import { scoreNamesOf } from '../models/model-set.ts';

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../data/spotify_tracks_sample.csv', import.meta.url));
const say = (m: string) =>
  process.stderr.write(
    m
      .split('\n')
      .map((l) => `up: ${l}\n`)
      .join(''),
  );

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

/** One line when Prometheus or Alertmanager does not answer (the API's /health knows). */
async function sayMonitoring(healthUrl: string): Promise<void> {
  const health = await fetch(healthUrl, { signal: AbortSignal.timeout(3000) })
    .then((r) => r.json() as Promise<{ monitoring?: { prometheus: boolean; alertmanager: boolean } }>)
    .catch(() => undefined);
  const m = health?.monitoring;
  if (!m || (m.prometheus && m.alertmanager)) return;
  const down = [
    !m.prometheus && 'Prometheus (PROMETHEUS_URL)',
    !m.alertmanager && 'Alertmanager (ALERTMANAGER_URL)',
  ].filter(Boolean);
  say(`monitoring degraded: ${down.join(' and ')} not answering; scoring goes on, alerts are not sent`);
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'Run everything: stack, migrations, scorer workers, API + live feed, and a replay of the sample',
    )
    .option('--workers <n>', 'scorer worker processes', positiveInteger, 2)
    .option('--data <path>', 'CSV to replay', SAMPLE)
    .option('--rate <n>', 'replay rate, events/s (default: as fast as possible)', positive)
    .option('--no-replay', 'start the pipeline without replaying anything')
    .option('--exit', 'stop everything once the replay has been scored (for scripts and smoke tests)')
    .action(
      async (opts: { workers: number; data: string; rate?: number; replay: boolean; exit?: boolean }) => {
        const env = { ...process.env };
        let cfg = loadConfig();
        const pretty = cfg.logFormat === 'pretty' || (cfg.logFormat === 'auto' && process.stderr.isTTY);
        // Our own Kafka clients' lines read like the children's, behind `up |`.
        if (pretty) setLogDestination(prefixedStream('up', { colorize: Boolean(process.stderr.isTTY) }));
        // Workers listen on the port and the ones after it, where `up` asks for their health.
        if (cfg.workerPort === 0)
          throw new HitstreamError(
            'CONFIG_INVALID',
            `HITSTREAM_WORKER_PORT=0 (any free port) leaves \`up\` nowhere to check its workers' health: set a port, and workers 1…${opts.workers} listen on it and the ${opts.workers - 1} after it`,
            { field: 'HITSTREAM_WORKER_PORT' },
          );
        const external = Boolean(process.env.KAFKA_BROKERS && process.env.CLICKHOUSE_URL);
        let startedStack = false;
        if (!external) {
          const r = await stackUp(cfg, say);
          startedStack = r.kafka.action === 'started' || r.clickhouse.action === 'started';
          Object.assign(env, {
            KAFKA_BROKERS: brokerList(kafkaNodes(cfg)).join(','),
            CLICKHOUSE_URL: `http://127.0.0.1:${cfg.clickhouseHttpPort}`,
            ...(stackHasClickhouseCluster(cfg) ? { HITSTREAM_CLICKHOUSE_CLUSTER: STACK_CLUSTER } : {}),
          });
          cfg = loadConfig(env);
          say(
            `Kafka ${r.kafka.action} (${r.kafka.seconds.toFixed(1)} s), ClickHouse ${r.clickhouse.action} (${r.clickhouse.seconds.toFixed(1)} s), ` +
              `Alertmanager ${r.alertmanager.action}, Prometheus ${r.prometheus.action}`,
          );
          for (const [name, m] of [
            ['Alertmanager', r.alertmanager],
            ['Prometheus', r.prometheus],
          ] as const)
            if (m.action === 'unavailable')
              say(
                `monitoring degraded: ${name} did not start (${m.reason}); scoring goes on, alerts are not sent`,
              );
        }
        const applied = await migrate(cfg);
        say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database up to date');
        await ensureTopics(cfg, { log: say });
        // A fresh registry gets the checkout's models as its first live version.
        const lifecycle = createLifecycle(cfg, createLogger('models', 'warn'));
        const reg = await lifecycle
          .registerIfEmpty(cfg.modelsDir || ARTIFACTS_DIR)
          .finally(() => lifecycle.close());
        say(
          reg.registered
            ? `registered the checkout's models as live version ${reg.version}`
            : `live models: ${reg.version}`,
        );

        const children: ChildProcess[] = [];
        const nWorkers = opts.workers;
        const start = (name: string, command: string, childEnv: NodeJS.ProcessEnv) => {
          const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, BIN, command], {
            env: childEnv,
            stdio: ['ignore', pretty ? 'pipe' : 'inherit', pretty ? 'pipe' : 'inherit'],
            // Own process group: a terminal's Ctrl-C reaches `up` alone, which then sends one
            // SIGTERM (a second signal would make the child exit at once, unstored work and all).
            detached: true,
          });
          if (pretty) forwardOutput(child, name, { colorize: Boolean(process.stderr.isTTY) });
          children.push(child);
        };
        for (let i = 0; i < nWorkers; i++)
          start(`worker-${i + 1}`, 'worker', { ...env, HITSTREAM_WORKER_PORT: String(cfg.workerPort + i) });
        start('api', 'api', env);
        const workerPorts = Array.from({ length: nWorkers }, (_, i) => cfg.workerPort + i);
        // Prometheus scrapes the workers this command starts (and, after a clean stop, none).
        if (!external) writeWorkerTargets(cfg, workerPorts);
        let stopping = false;
        const running = () => children.filter((c) => c.exitCode === null && c.signalCode === null);
        const stopAll = async (code: number) => {
          if (stopping) return;
          stopping = true;
          say(
            `stopping workers and API (they store and commit the work in hand, up to ${cfg.shutdownTimeoutMs / 1000} s; a second Ctrl-C stops them at once)`,
          );
          await Promise.all(running().map((c) => new Promise((r) => (c.once('exit', r), c.kill('SIGTERM')))));
          // Stopped on purpose: not a "service down" alert for a stack that keeps running.
          if (!external) writeWorkerTargets(cfg, []);
          if (startedStack) {
            await stackDown(cfg);
            say('stack stopped');
          }
          process.exit(code);
        };
        const log = createLogger('up');
        onShutdownSignal(log, () => void stopAll(0), { backstopMs: cfg.shutdownTimeoutMs + 10_000 });
        // However `up` ends (second Ctrl-C, backstop), the children it started end with it; their
        // uncommitted events are re-read on the next start.
        process.once('exit', () => {
          for (const c of running()) c.kill('SIGKILL');
        });
        for (const c of children)
          c.once(
            'exit',
            (code) => !stopping && code !== 0 && say(`a child process exited with code ${code}`),
          );

        // Every service must answer its /health before the replay: a worker or an API that could
        // not start (a port in use, a bad setting) is named here, with its own error above.
        const local = cfg.apiHost === '0.0.0.0' ? '127.0.0.1' : cfg.apiHost;
        const services = [
          ...Array.from({ length: nWorkers }, (_, i) => ({
            name: `worker ${i + 1} (HITSTREAM_WORKER_PORT ${cfg.workerPort + i})`,
            url: `http://127.0.0.1:${cfg.workerPort + i}/health`,
            child: children[i]!,
          })),
          {
            name: `API (HITSTREAM_API_PORT ${cfg.apiPort})`,
            url: `http://${local}:${cfg.apiPort}/health`,
            child: children.at(-1)!,
          },
        ];
        const states = await Promise.all(services.map((x) => waitHealthy(x.url, x.child)));
        const failed = services.filter((_, i) => states[i] !== 'ready');
        if (failed.length) {
          for (const [i, x] of services.entries())
            if (states[i] !== 'ready')
              say(
                `${x.name} ${states[i] === 'exited' ? 'exited' : 'did not become healthy in 60 s'}; its log is above`,
              );
          await stopAll(1);
          return;
        }
        say(`${nWorkers} workers ready; API and live feed on http://${cfg.apiHost}:${cfg.apiPort}`);
        const base = `http://${local}:${cfg.apiPort}`;
        await sayMonitoring(`${base}/health`);
        const stopStatus = pretty
          ? startStatusLine(
              workerPorts.map((port) => `http://127.0.0.1:${port}/metrics`),
              (line) => process.stderr.write(`${'status'.padEnd(NAME_WIDTH)}| ${line}\n`),
              { alertsUrl: `${base}/alerts?since=1h&limit=20` },
            )
          : () => undefined;
        if (opts.replay) {
          const ch = createClickhouse(cfg);
          const count = async () =>
            Number(
              (
                await (
                  await ch.query({
                    query: 'SELECT count() AS n FROM predictions FINAL',
                    format: 'JSONEachRow',
                  })
                ).json<{ n: string }>()
              )[0]?.n ?? 0,
            );
          const before = await count();
          const publisher = await createPublisher(cfg, 'hitstream-up');
          const summary = await replayCsv(publisher, {
            path: opts.data,
            rate: opts.rate,
          });
          await publisher.close();
          // One row per event per score: four, five when the models ship an ensemble.
          const scores = scoreNamesOf(cfg.modelsDir || undefined);
          const want = before + summary.sent * scores.length;
          const t0 = Date.now();
          let have = before;
          while (have < want && Date.now() - t0 < 120_000) {
            await new Promise((r) => setTimeout(r, 500));
            have = await count();
          }
          say(
            `${have - before} prediction rows for ${summary.sent} events (${scores.length} scores each: ${scores.join(', ')}) in ClickHouse after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
          );
          await ch.close();
        }
        say(
          [
            'open:',
            `  Live         ${base}/live.html`,
            `  What-if      ${base}/whatif.html`,
            `  Models       ${base}/models.html`,
            `  Dashboards   ${base}/dashboards.html`,
            `  Alerts       ${base}/alerts.html`,
            `  Prometheus   ${prometheusUrlOf(cfg)} (alert rules: ${prometheusUrlOf(cfg)}/alerts)`,
            `  Alertmanager ${alertmanagerUrlOf(cfg)}`,
            `  API docs     ${base}/docs`,
            `  Metrics      ${base}/metrics, workers on :${cfg.workerPort}${nWorkers > 1 ? `-${cfg.workerPort + nWorkers - 1}` : ''}/metrics`,
          ].join('\n'),
        );
        if (opts.exit) {
          stopStatus();
          await stopAll(0);
        } else say('running; Ctrl-C stops everything this command started');
      },
    );
}
