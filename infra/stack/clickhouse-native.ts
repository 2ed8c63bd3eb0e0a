/**
 * A real ClickHouse server with its own small config, all of its files under HITSTREAM_HOME.
 * Debian 12 ships only 18.16; a newer single `clickhouse` binary on PATH is used when present.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { REPO_ROOT, stackPaths } from './paths.ts';
import { ensureTlsMaterial, sha256Hex, type TlsMaterial } from './tls-material.ts';
import { type ManagedProcess, portOpen, runningPid, startDetached, waitUntil } from './processes.ts';

export function clickhouseProcess(cfg: Config): ManagedProcess {
  const p = stackPaths(cfg);
  return {
    name: 'clickhouse',
    pidFile: join(p.run, 'clickhouse.pid'),
    marker: join(p.clickhouseDir, 'config.xml'),
  };
}

const onPath = (cmd: string) =>
  spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();

/** [command, leading args] that run a ClickHouse server, installing Debian's package if allowed. */
function findServer(cfg: Config, log: (msg: string) => void): [string, string[]] {
  const find = (): [string, string[]] | undefined => {
    for (const c of ['/usr/sbin/clickhouse-server', onPath('clickhouse-server')])
      if (c && existsSync(c)) return [c, []];
    const single = onPath('clickhouse');
    return single ? [single, ['server', '--']] : undefined;
  };
  const found = find();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (!cfg.allowApt || !isRoot)
    throw new HitstreamError(
      'STACK_MISSING_TOOL',
      'ClickHouse server is missing. Install it (Debian: `sudo apt-get install clickhouse-server`), or run as root with HITSTREAM_ALLOW_APT=true, or point CLICKHOUSE_URL at a running server.',
    );
  log('installing Debian package clickhouse-server (once)');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'clickhouse-server'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const after = find();
  if (!after)
    throw new HitstreamError('STACK_MISSING_TOOL', 'clickhouse-server installed but no server binary found');
  return after;
}

function writeClickhouseConfig(cfg: Config, tls: TlsMaterial): string {
  const { clickhouseDir: dir } = stackPaths(cfg);
  for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas'])
    mkdirSync(join(dir, sub), { recursive: true });
  const values: Record<string, string> = {
    dir,
    host: '127.0.0.1',
    httpPort: String(cfg.clickhouseHttpPort),
    tcpPort: String(cfg.clickhouseTcpPort),
    httpsPort: String(cfg.clickhouseHttpsPort),
    serverCert: tls.serverCert,
    serverKey: tls.serverKey,
    user: tls.user,
    passwordSha256: sha256Hex(tls.password),
  };
  const fill = (template: string) => template.replace(/\{\{(\w+)\}\}/g, (_, k: string) => values[k] ?? '');
  const template = readFileSync(join(REPO_ROOT, 'infra/clickhouse/config.template.xml'), 'utf8');
  const config = join(dir, 'config.xml');
  writeFileSync(config, fill(template));
  const users = readFileSync(join(REPO_ROOT, 'infra/clickhouse/users.xml'), 'utf8');
  writeFileSync(join(dir, 'users.xml'), fill(users), { mode: 0o600 });
  return config;
}

export async function clickhouseAnswers(url: string): Promise<boolean> {
  try {
    const ping = await fetch(new URL('/ping', url), { signal: AbortSignal.timeout(1000) });
    if (!ping.ok) return false;
    const q = await fetch(new URL('/?query=SELECT%201', url), { signal: AbortSignal.timeout(2000) });
    return q.ok && (await q.text()).trim() === '1';
  } catch {
    return false;
  }
}

export async function startClickhouse(
  cfg: Config,
  log: (msg: string) => void,
): Promise<'started' | 'running'> {
  const proc = clickhouseProcess(cfg);
  const url = `http://127.0.0.1:${cfg.clickhouseHttpPort}`;
  if (runningPid(proc) !== undefined) {
    await waitUntil(() => clickhouseAnswers(url), { timeoutMs: 30_000, what: 'ClickHouse' });
    return 'running';
  }
  for (const port of [cfg.clickhouseHttpPort, cfg.clickhouseTcpPort, cfg.clickhouseHttpsPort]) {
    if (await portOpen('127.0.0.1', port))
      throw new HitstreamError(
        'STACK_PORT_IN_USE',
        `port ${port} is in use by another process: stop it or set HITSTREAM_CLICKHOUSE_HTTP_PORT / HITSTREAM_CLICKHOUSE_TCP_PORT / HITSTREAM_CLICKHOUSE_HTTPS_PORT`,
      );
  }
  const [cmd, lead] = findServer(cfg, log);
  const config = writeClickhouseConfig(cfg, ensureTlsMaterial(stackPaths(cfg).tls, log));
  const logFile = join(stackPaths(cfg).logs, 'clickhouse.log');
  const pid = startDetached(proc, cmd, [...lead, `--config-file=${config}`], {
    logFile,
    cwd: stackPaths(cfg).clickhouseDir,
  });
  await waitUntil(() => clickhouseAnswers(url), { timeoutMs: 60_000, what: 'ClickHouse', pid, logFile });
  return 'started';
}
