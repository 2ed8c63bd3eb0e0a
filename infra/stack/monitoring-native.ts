/**
 * Prometheus and Alertmanager for the native stack: Debian's packages (prometheus 2.42,
 * prometheus-alertmanager 0.25), installed with apt like clickhouse-server, each with a config
 * hitstream writes under HITSTREAM_HOME. Prometheus scrapes the workers and the API (file-based
 * targets that `up` rewrites for the workers it starts), evaluates alerts/generated/'s rules, and
 * sends alerts to the Alertmanager, which routes them to the API's receiver (POST /alerts/webhook).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../lib/config.ts';
export { alertmanagerUrlOf, prometheusUrlOf } from '../../lib/config.ts';
import { autopilotSecret, autopilotSecretFile } from '../../lib/autopilot-secret.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { REPO_ROOT, stackPaths } from './paths.ts';
import {
  type ManagedProcess,
  portOpen,
  runningPid,
  startDetached,
  stopProcess,
  waitUntil,
} from './processes.ts';

/** The rule file `npx hitstream alerts generate` writes; Prometheus reads it in place. */
export const PROMETHEUS_RULES_FILE = join(REPO_ROOT, 'alerts/generated/prometheus-rules.yml');

type Tool = 'prometheus' | 'alertmanager';
const DEBIAN_PACKAGE: Record<Tool, string> = {
  prometheus: 'prometheus',
  alertmanager: 'prometheus-alertmanager',
};
/** Debian names the Alertmanager binary after its package; upstream builds call it alertmanager. */
const BINARIES: Record<Tool, string[]> = {
  prometheus: ['prometheus'],
  alertmanager: ['alertmanager', 'prometheus-alertmanager'],
};

const dirOf = (cfg: Config, tool: Tool) => join(stackPaths(cfg).home, tool);

export function monitoringProcess(cfg: Config, tool: Tool): ManagedProcess {
  return {
    name: tool,
    pidFile: join(stackPaths(cfg).run, `${tool}.pid`),
    marker: join(dirOf(cfg, tool), `${tool}.yml`),
  };
}

const onPath = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

/** The binary of `tool`, installing Debian's package when allowed (root, HITSTREAM_ALLOW_APT). */
export function findMonitoringBinary(cfg: Config, tool: Tool, log: (msg: string) => void): string {
  const find = () => BINARIES[tool].map(onPath).find(Boolean);
  const found = find();
  if (found) return found;
  const pkg = DEBIAN_PACKAGE[tool];
  if (!cfg.allowApt || process.getuid?.() !== 0)
    throw new HitstreamError(
      'STACK_MISSING_TOOL',
      `${tool} is missing. Install it (Debian: \`sudo apt-get install ${pkg}\`), or run as root with HITSTREAM_ALLOW_APT=true`,
    );
  log(`installing Debian package ${pkg} (once)`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const after = find();
  if (!after) throw new HitstreamError('STACK_MISSING_TOOL', `${pkg} installed but no ${tool} binary found`);
  return after;
}

const targetsDir = (cfg: Config) => join(dirOf(cfg, 'prometheus'), 'targets');

/**
 * The workers Prometheus scrapes: `up` writes the ports of the workers it starts (and none when it
 * stops them on purpose, so a clean stop is not a "worker down" alert). Prometheus re-reads the file.
 */
export function writeWorkerTargets(cfg: Config, ports: number[]): void {
  mkdirSync(targetsDir(cfg), { recursive: true });
  const targets = ports.map((p) => `127.0.0.1:${p}`);
  writeFileSync(
    join(targetsDir(cfg), 'workers.json'),
    `${JSON.stringify(targets.length ? [{ targets, labels: { service: 'worker' } }] : [])}\n`,
  );
}

/** The autopilot, when `up --autopilot` runs one (none otherwise, so no "down" alert for it). */
export function writeAutopilotTargets(cfg: Config, running: boolean): void {
  mkdirSync(targetsDir(cfg), { recursive: true });
  writeFileSync(
    join(targetsDir(cfg), 'autopilot.json'),
    `${JSON.stringify(running ? [{ targets: [`127.0.0.1:${cfg.autopilotPort}`], labels: { service: 'autopilot' } }] : [])}\n`,
  );
}

function writePrometheusConfig(cfg: Config): string {
  const dir = dirOf(cfg, 'prometheus');
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(targetsDir(cfg), { recursive: true });
  const workers = join(targetsDir(cfg), 'workers.json');
  // None until `up` starts some: a stack without workers is not a "service down" alert. A worker
  // started by hand is scraped once its port is added to this file.
  if (!existsSync(workers)) writeWorkerTargets(cfg, []);
  if (!existsSync(join(targetsDir(cfg), 'autopilot.json'))) writeAutopilotTargets(cfg, false);
  writeFileSync(
    join(targetsDir(cfg), 'api.json'),
    `${JSON.stringify([{ targets: [`127.0.0.1:${cfg.apiPort}`], labels: { service: 'api' } }])}\n`,
  );
  const every = `${cfg.scrapeIntervalSeconds}s`;
  const config = {
    global: { scrape_interval: every, evaluation_interval: every, scrape_timeout: every },
    rule_files: [PROMETHEUS_RULES_FILE],
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${cfg.alertmanagerPort}`] }] }],
    },
    scrape_configs: [
      { job_name: 'hitstream-workers', file_sd_configs: [{ files: [workers], refresh_interval: '10s' }] },
      {
        job_name: 'hitstream-api',
        file_sd_configs: [{ files: [join(targetsDir(cfg), 'api.json')], refresh_interval: '1m' }],
      },
      {
        job_name: 'hitstream-autopilot',
        file_sd_configs: [{ files: [join(targetsDir(cfg), 'autopilot.json')], refresh_interval: '10s' }],
      },
    ],
  };
  const path = join(dir, 'prometheus.yml');
  writeFileSync(
    path,
    `# Written by \`npx hitstream stack up\`; edits are overwritten.\n${stringify(config)}`,
  );
  return path;
}

/** Alertmanager's routing: everything to the API's receiver, with the write key when one is set. */
export function alertmanagerConfig(cfg: Config, webhookUrl: string) {
  // The autopilot hears every alert too (its policy picks the ones that start a run); its own
  // `info` outcomes go to the API alone. When no autopilot runs, Alertmanager logs a failed send.
  const autopilotHost = cfg.autopilotHost === '0.0.0.0' ? '127.0.0.1' : cfg.autopilotHost;
  return {
    route: {
      receiver: 'hitstream',
      group_by: ['alertname', 'version', 'feature', 'model'],
      group_wait: '10s',
      group_interval: '1m',
      repeat_interval: '4h',
      routes: [
        { receiver: 'autopilot', matchers: ['severity!="info"'], continue: true },
        { receiver: 'hitstream' },
      ],
    },
    receivers: [
      {
        name: 'hitstream',
        webhook_configs: [
          {
            url: webhookUrl,
            send_resolved: true,
            ...(cfg.apiKey ? { http_config: { authorization: { credentials: cfg.apiKey } } } : {}),
          },
        ],
      },
      {
        name: 'autopilot',
        webhook_configs: [
          {
            url: `http://${autopilotHost}:${cfg.autopilotPort}/webhook`,
            send_resolved: true,
            http_config: {
              authorization: cfg.autopilotSecret
                ? { credentials: cfg.autopilotSecret }
                : { credentials_file: autopilotSecretFileFor(cfg) },
            },
          },
        ],
      },
    ],
  };
}

/** The native stack's generated secret, made now if missing (Alertmanager reads it at start). */
function autopilotSecretFileFor(cfg: Config) {
  autopilotSecret(cfg);
  return autopilotSecretFile(cfg);
}

function writeAlertmanagerConfig(cfg: Config): string {
  const dir = dirOf(cfg, 'alertmanager');
  mkdirSync(join(dir, 'data'), { recursive: true });
  const webhook = `http://127.0.0.1:${cfg.apiPort}/alerts/webhook`;
  const path = join(dir, 'alertmanager.yml');
  writeFileSync(
    path,
    `# Written by \`npx hitstream stack up\`; edits are overwritten. Receivers for Slack, e-mail,\n# PagerDuty: alerts/receivers/.\n${stringify(alertmanagerConfig(cfg, webhook))}`,
    { mode: 0o600 },
  );
  return path;
}

const ready = (url: string) => async () =>
  fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
    .then((r) => r.ok)
    .catch(() => false);

export const prometheusAnswers = (cfg: Config) => ready(`http://127.0.0.1:${cfg.prometheusPort}`)();
export const alertmanagerAnswers = (cfg: Config) => ready(`http://127.0.0.1:${cfg.alertmanagerPort}`)();

async function startOne(
  cfg: Config,
  tool: Tool,
  port: number,
  args: (config: string) => string[],
  log: (msg: string) => void,
): Promise<'started' | 'running'> {
  const proc = monitoringProcess(cfg, tool);
  const url = `http://127.0.0.1:${port}`;
  // The config is rewritten either way: a running one is told to re-read it below.
  const config = tool === 'prometheus' ? writePrometheusConfig(cfg) : writeAlertmanagerConfig(cfg);
  if (runningPid(proc) !== undefined) {
    await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(5000) }).catch(() => {});
    await waitUntil(ready(url), { timeoutMs: 30_000, what: tool });
    return 'running';
  }
  if (await portOpen('127.0.0.1', port))
    throw new HitstreamError(
      'STACK_PORT_IN_USE',
      `port ${port} is in use by another process: stop it or set HITSTREAM_${tool.toUpperCase()}_PORT`,
      { field: `HITSTREAM_${tool.toUpperCase()}_PORT` },
    );
  const binary = findMonitoringBinary(cfg, tool, log);
  const logFile = join(stackPaths(cfg).logs, `${tool}.log`);
  const pid = startDetached(proc, binary, args(config), { logFile, cwd: dirOf(cfg, tool) });
  await waitUntil(ready(url), { timeoutMs: 60_000, what: tool, pid, logFile });
  return 'started';
}

export async function startAlertmanager(cfg: Config, log: (msg: string) => void) {
  const dir = dirOf(cfg, 'alertmanager');
  return startOne(
    cfg,
    'alertmanager',
    cfg.alertmanagerPort,
    (config) => [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${cfg.alertmanagerPort}`,
      `--web.external-url=http://127.0.0.1:${cfg.alertmanagerPort}`,
      // One Alertmanager: no gossip port to open or to collide with.
      '--cluster.listen-address=',
    ],
    log,
  );
}

export async function startPrometheus(cfg: Config, log: (msg: string) => void) {
  const dir = dirOf(cfg, 'prometheus');
  return startOne(
    cfg,
    'prometheus',
    cfg.prometheusPort,
    (config) => [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--storage.tsdb.retention.time=15d',
      `--web.listen-address=127.0.0.1:${cfg.prometheusPort}`,
      // POST /-/reload: `stack up` and `alerts calibrate` make it re-read its config and rules.
      '--web.enable-lifecycle',
    ],
    log,
  );
}

/** Tells a running Prometheus to re-read its rules; false when none answers. */
export async function reloadPrometheus(cfg: Config): Promise<boolean> {
  return fetch(`http://127.0.0.1:${cfg.prometheusPort}/-/reload`, {
    method: 'POST',
    signal: AbortSignal.timeout(5000),
  })
    .then((r) => r.ok)
    .catch(() => false);
}

export async function stopMonitoring(cfg: Config): Promise<string[]> {
  const stopped: string[] = [];
  for (const tool of ['prometheus', 'alertmanager'] as const)
    if (await stopProcess(monitoringProcess(cfg, tool))) stopped.push(tool);
  return stopped;
}
