/**
 * `hitstream up` (what `npm start` runs): the whole pipeline on one machine. Starts the native
 * stack unless KAFKA_BROKERS and CLICKHOUSE_URL point elsewhere, migrates, starts N scorer workers
 * and the API as child processes (up-services.ts), replays the sample (up-replay.ts), and on
 * Ctrl-C stops everything it started.
 */
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { STACK_CLUSTER, stackHasClickhouseCluster } from '../infra/stack/clickhouse-native.ts';
import { brokerList, kafkaNodes } from '../infra/stack/kafka-native.ts';
import { writeAutopilotTargets, writeWorkerTargets } from '../infra/stack/monitoring-native.ts';
import { stackDown, stackUp } from '../infra/stack/stack.ts';
import { migrate } from '../infra/migrate.ts';
import { alertmanagerUrlOf, type Config, loadConfig, prometheusUrlOf } from '../lib/config.ts';
import { HitstreamError } from '../lib/errors.ts';
import { ensureTopics } from '../lib/kafka.ts';
import { createLogger, setLogDestination } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import { createLifecycle } from '../registry/lifecycle.ts';
import { positive, positiveInteger } from './options.ts';
import { NAME_WIDTH, prefixedStream } from './up-output.ts';
import { replayAndWaitScored } from './up-replay.ts';
import { failedToStart, startServices, terminate } from './up-services.ts';
import { startStatusLine } from './up-status.ts';

const SAMPLE = fileURLToPath(new URL('../data/spotify_tracks_sample.csv', import.meta.url));
const say = (m: string) =>
  process.stderr.write(
    m
      .split('\n')
      .map((l) => `up: ${l}\n`)
      .join(''),
  );

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

interface UpOptions {
  workers: number;
  data: string;
  rate?: number;
  replay: boolean;
  exit?: boolean;
  autopilot?: boolean;
}

/**
 * The native stack, unless KAFKA_BROKERS and CLICKHOUSE_URL point elsewhere; returns the settings
 * and environment the services get, and whether this command started the stack (to stop it).
 */
async function ensureStack(cfg: Config, env: NodeJS.ProcessEnv) {
  const external = Boolean(process.env.KAFKA_BROKERS && process.env.CLICKHOUSE_URL);
  if (external) return { cfg, external, startedStack: false };
  const r = await stackUp(cfg, say);
  Object.assign(env, {
    KAFKA_BROKERS: brokerList(kafkaNodes(cfg)).join(','),
    CLICKHOUSE_URL: `http://127.0.0.1:${cfg.clickhouseHttpPort}`,
    ...(stackHasClickhouseCluster(cfg) ? { HITSTREAM_CLICKHOUSE_CLUSTER: STACK_CLUSTER } : {}),
  });
  say(
    `Kafka ${r.kafka.action} (${r.kafka.seconds.toFixed(1)} s), ClickHouse ${r.clickhouse.action} (${r.clickhouse.seconds.toFixed(1)} s), ` +
      `Alertmanager ${r.alertmanager.action}, Prometheus ${r.prometheus.action}`,
  );
  for (const [name, m] of [
    ['Alertmanager', r.alertmanager],
    ['Prometheus', r.prometheus],
  ] as const)
    if (m.action === 'unavailable')
      say(`monitoring degraded: ${name} did not start (${m.reason}); scoring goes on, alerts are not sent`);
  return {
    cfg: loadConfig(env),
    external,
    startedStack: r.kafka.action === 'started' || r.clickhouse.action === 'started',
  };
}

/** Tables, topics, and a fresh registry's first live version (the checkout's models). */
async function prepareStorage(cfg: Config) {
  const applied = await migrate(cfg);
  say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database up to date');
  await ensureTopics(cfg, { log: say });
  const lifecycle = createLifecycle(cfg, createLogger('models', 'warn'));
  const reg = await lifecycle
    .registerIfEmpty(cfg.modelsDir || ARTIFACTS_DIR)
    .finally(() => lifecycle.close());
  say(
    reg.registered
      ? `registered the checkout's models as live version ${reg.version}`
      : `live models: ${reg.version}`,
  );
}

const openLines = (cfg: Config, base: string, workers: number, autopilot?: boolean) =>
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
    `  Metrics      ${base}/metrics, workers on :${cfg.workerPort}${workers > 1 ? `-${cfg.workerPort + workers - 1}` : ''}/metrics`,
    ...(autopilot
      ? [
          `  Autopilot    http://127.0.0.1:${cfg.autopilotPort}/status (runs on the Models page; \`npx hitstream autopilot status\`)`,
        ]
      : []),
  ].join('\n');

async function up(opts: UpOptions): Promise<void> {
  const env = { ...process.env };
  const first = loadConfig();
  const pretty = first.logFormat === 'pretty' || (first.logFormat === 'auto' && process.stderr.isTTY);
  // Our own Kafka clients' lines read like the children's, behind `up |`.
  if (pretty) setLogDestination(prefixedStream('up', { colorize: Boolean(process.stderr.isTTY) }));
  // Workers listen on the port and the ones after it, where `up` asks for their health.
  if (first.workerPort === 0)
    throw new HitstreamError(
      'CONFIG_INVALID',
      `HITSTREAM_WORKER_PORT=0 (any free port) leaves \`up\` nowhere to check its workers' health: set a port, and workers 1…${opts.workers} listen on it and the ${opts.workers - 1} after it`,
      { field: 'HITSTREAM_WORKER_PORT' },
    );
  const { cfg, external, startedStack } = await ensureStack(first, env);
  await prepareStorage(cfg);

  const started = startServices(cfg, env, opts.workers, Boolean(pretty), { autopilot: opts.autopilot });
  // Prometheus scrapes the workers this command starts (and, after a clean stop, none).
  if (!external) writeWorkerTargets(cfg, started.workerPorts);
  if (!external) writeAutopilotTargets(cfg, Boolean(opts.autopilot));
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say(
      `stopping workers and API (they store and commit the work in hand, up to ${cfg.shutdownTimeoutMs / 1000} s; a second Ctrl-C stops them at once)`,
    );
    await terminate(started.running());
    // Stopped on purpose: not a "service down" alert for a stack that keeps running.
    if (!external) writeWorkerTargets(cfg, []);
    if (!external) writeAutopilotTargets(cfg, false);
    if (startedStack) {
      await stackDown(cfg);
      say('stack stopped');
    }
    process.exit(code);
  };
  onShutdownSignal(createLogger('up'), () => void stopAll(0), { backstopMs: cfg.shutdownTimeoutMs + 10_000 });
  // However `up` ends (second Ctrl-C, backstop), the children it started end with it; their
  // uncommitted events are re-read on the next start.
  process.once('exit', () => {
    for (const c of started.running()) c.kill('SIGKILL');
  });
  for (const child of started.children)
    child.once('exit', (code) => !stopping && code !== 0 && say(`a child process exited with code ${code}`));

  const failed = await failedToStart(started.services);
  if (failed.length) {
    failed.forEach(say);
    await stopAll(1);
    return;
  }
  say(`${opts.workers} workers ready; API and live feed on http://${cfg.apiHost}:${cfg.apiPort}`);
  const base = started.apiBase;
  await sayMonitoring(`${base}/health`);
  const stopStatus = pretty
    ? startStatusLine(
        started.workerPorts.map((port) => `http://127.0.0.1:${port}/metrics`),
        (line) => process.stderr.write(`${'status'.padEnd(NAME_WIDTH)}| ${line}\n`),
        { alertsUrl: `${base}/alerts?since=1h&limit=20` },
      )
    : () => undefined;
  if (opts.replay) await replayAndWaitScored(cfg, opts, say);
  say(openLines(cfg, base, opts.workers, opts.autopilot));
  if (opts.exit) {
    stopStatus();
    await stopAll(0);
  } else say('running; Ctrl-C stops everything this command started');
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
    .option(
      '--autopilot',
      'also start the autopilot (policy: HITSTREAM_AUTOPILOT_POLICY, autopilot.policy.yml)',
    )
    .action(up);
}
