/**
 * A real ClickHouse server with its own small config, all of its files under HITSTREAM_HOME, or
 * (HITSTREAM_STACK_CLICKHOUSE_REPLICAS or _SHARDS > 1) a ZooKeeper and shards × replicas servers
 * forming cluster `hitstream`, for Replicated (and, with shards, Distributed) tables. Debian 12 ships only 18.16; a newer single `clickhouse`
 * binary on PATH is used when present.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { REPO_ROOT, stackPaths } from './paths.ts';
import { ensureTlsMaterial, sha256Hex, type TlsMaterial } from './tls-material.ts';
import {
  type ManagedProcess,
  portOpen,
  runningPid,
  startDetached,
  stopProcess,
  waitUntil,
} from './processes.ts';
import { startZookeeper, zookeeperProcess } from './zookeeper-native.ts';

/** The cluster the native stack's replicas form (HITSTREAM_CLICKHOUSE_CLUSTER for them). */
export const STACK_CLUSTER = 'hitstream';
/** Replica i listens on the configured ports plus (i − 1) · 100. */
const PORT_STEP = 100;
export const MAX_STACK_REPLICAS = 3;
export const MAX_STACK_SHARDS = 3;
/** Servers at most (shards × replicas): each takes ~150 MB and a share of 2 cores. */
export const MAX_STACK_SERVERS = 4;

export interface ClickhouseNode {
  /** `clickhouse` (one server) or `clickhouse-1`, `clickhouse-2` …; also its PID file's name. */
  name: string;
  /** 0 for the single server, else 1 … N (shard by shard): its name's number. */
  index: number;
  /** 0 for the single server, else its shard (1 …) and its replica within the shard (1 …). */
  shard: number;
  replica: number;
  dir: string;
  ports: { http: number; tcp: number; https: number; interserver: number };
}

/** The servers `stack up` runs for `shards` shards of `replicas` replicas. */
export function clickhouseNodes(
  cfg: Config,
  replicas = cfg.stackClickhouseReplicas,
  shards = cfg.stackClickhouseShards,
): ClickhouseNode[] {
  const p = stackPaths(cfg);
  const ports = (i: number) => ({
    http: cfg.clickhouseHttpPort + i * PORT_STEP,
    tcp: cfg.clickhouseTcpPort + i * PORT_STEP,
    https: cfg.clickhouseHttpsPort + i * PORT_STEP,
    interserver: cfg.clickhouseTcpPort + 9 + i * PORT_STEP,
  });
  const servers = replicas * shards;
  if (servers <= 1)
    return [{ name: 'clickhouse', index: 0, shard: 0, replica: 0, dir: p.clickhouseDir, ports: ports(0) }];
  if (servers > MAX_STACK_SERVERS)
    throw new HitstreamError(
      'CONFIG_INVALID',
      `${shards} ClickHouse shards × ${replicas} replicas is ${servers} servers; the native stack runs at most ${MAX_STACK_SERVERS}: lower HITSTREAM_STACK_CLICKHOUSE_SHARDS or _REPLICAS (--clickhouse-shards, --clickhouse-replicas)`,
      { field: 'HITSTREAM_STACK_CLICKHOUSE_SHARDS' },
    );
  return Array.from({ length: servers }, (_, k) => ({
    name: `clickhouse-${k + 1}`,
    index: k + 1,
    shard: Math.floor(k / replicas) + 1,
    replica: (k % replicas) + 1,
    dir: join(p.clickhouseDir, 'cluster', `server-${k + 1}`),
    ports: ports(k),
  }));
}

/** The stack's ClickHouse is a cluster (several servers, a ZooKeeper, HITSTREAM_CLICKHOUSE_CLUSTER). */
export const stackHasClickhouseCluster = (cfg: Config) =>
  cfg.stackClickhouseReplicas * cfg.stackClickhouseShards > 1;

export function clickhouseNodeProcess(cfg: Config, node: ClickhouseNode): ManagedProcess {
  return {
    name: node.name,
    pidFile: join(stackPaths(cfg).run, `${node.name}.pid`),
    marker: join(node.dir, 'config.xml'),
  };
}

/** The single server's process (tests and benches stop it and read its CPU time). */
export function clickhouseProcess(cfg: Config): ManagedProcess {
  return clickhouseNodeProcess(cfg, clickhouseNodes(cfg, 1)[0]!);
}

/** Every server either layout may have started: what `stack down` looks for. */
export function everyClickhouseNode(cfg: Config): ClickhouseNode[] {
  return [...clickhouseNodes(cfg, 1, 1), ...clickhouseNodes(cfg, MAX_STACK_SERVERS, 1)];
}

export const clickhouseUrlOf = (node: ClickhouseNode) => `http://127.0.0.1:${node.ports.http}`;

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

/** What a cluster server's config adds: ZooKeeper, the cluster of all servers, its own macros. */
function replicationXml(cfg: Config, node: ClickhouseNode, all: ClickhouseNode[]): string {
  if (!node.index) return '';
  const shardXml = (shard: number) =>
    '<shard><internal_replication>true</internal_replication>' +
    all
      .filter((n) => n.shard === shard)
      .map((n) => `<replica><host>127.0.0.1</host><port>${n.ports.tcp}</port></replica>`)
      .join('') +
    '</shard>';
  const shards = [...new Set(all.map((n) => n.shard))].map(shardXml).join('');
  return [
    `<interserver_http_port>${node.ports.interserver}</interserver_http_port>`,
    '<interserver_http_host>127.0.0.1</interserver_http_host>',
    `<zookeeper><node><host>127.0.0.1</host><port>${cfg.zookeeperPort}</port></node></zookeeper>`,
    `<remote_servers><${STACK_CLUSTER}>${shards}</${STACK_CLUSTER}></remote_servers>`,
    `<macros><shard>${String(node.shard).padStart(2, '0')}</shard><replica>r${node.index}</replica></macros>`,
    '<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>',
  ].join('\n    ');
}

function writeClickhouseConfig(
  cfg: Config,
  node: ClickhouseNode,
  all: ClickhouseNode[],
  tls: TlsMaterial,
): string {
  const { dir } = node;
  for (const sub of ['log', 'data', 'tmp', 'user_files', 'format_schemas'])
    mkdirSync(join(dir, sub), { recursive: true });
  const values: Record<string, string> = {
    dir,
    host: '127.0.0.1',
    httpPort: String(node.ports.http),
    tcpPort: String(node.ports.tcp),
    httpsPort: String(node.ports.https),
    replication: replicationXml(cfg, node, all),
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

/** Servers of another layout that run: one server and a cluster, or two cluster shapes, share ports. */
function requireNoOtherLayout(cfg: Config, nodes: ClickhouseNode[]): void {
  const wanted = new Set(nodes.map((n) => n.name));
  const running = everyClickhouseNode(cfg).filter(
    (n) => runningPid(clickhouseNodeProcess(cfg, n)) !== undefined,
  );
  const other = running.filter((n) => !wanted.has(n.name));
  if (other.length)
    throw new HitstreamError(
      'STACK_LAYOUT_RUNNING',
      `ClickHouse runs as ${running.map((n) => n.name).join(', ')}, not the ${nodes.length} server(s) asked for (HITSTREAM_STACK_CLICKHOUSE_SHARDS × HITSTREAM_STACK_CLICKHOUSE_REPLICAS): set them to the running layout, or run \`npx hitstream stack down\` first`,
      { field: 'HITSTREAM_STACK_CLICKHOUSE_REPLICAS' },
    );
}

/** Starts one server (its config written already unless `write`); waits until it answers. */
export async function startClickhouseNode(cfg: Config, node: ClickhouseNode, log: (msg: string) => void) {
  const [cmd, lead] = findServer(cfg, log);
  const all = node.index ? clickhouseNodes(cfg) : [node];
  const config = writeClickhouseConfig(cfg, node, all, ensureTlsMaterial(stackPaths(cfg).tls, log));
  const logFile = join(stackPaths(cfg).logs, `${node.name}.log`);
  const pid = startDetached(clickhouseNodeProcess(cfg, node), cmd, [...lead, `--config-file=${config}`], {
    logFile,
    cwd: node.dir,
  });
  await waitUntil(() => clickhouseAnswers(clickhouseUrlOf(node)), {
    timeoutMs: 60_000,
    what: `ClickHouse ${node.name}`,
    pid,
    logFile,
  });
}

export async function startClickhouse(
  cfg: Config,
  log: (msg: string) => void,
): Promise<'started' | 'running'> {
  const nodes = clickhouseNodes(cfg);
  requireNoOtherLayout(cfg, nodes);
  const stopped = nodes.filter((n) => runningPid(clickhouseNodeProcess(cfg, n)) === undefined);
  if (!stopped.length) {
    for (const n of nodes)
      await waitUntil(() => clickhouseAnswers(clickhouseUrlOf(n)), {
        timeoutMs: 30_000,
        what: `ClickHouse ${n.name}`,
      });
    return 'running';
  }
  for (const port of stopped.flatMap((n) => [
    n.ports.http,
    n.ports.tcp,
    n.ports.https,
    ...(n.index ? [n.ports.interserver] : []),
  ])) {
    if (await portOpen('127.0.0.1', port))
      throw new HitstreamError(
        'STACK_PORT_IN_USE',
        `port ${port} is in use by another process: stop it or set HITSTREAM_CLICKHOUSE_HTTP_PORT / HITSTREAM_CLICKHOUSE_TCP_PORT / HITSTREAM_CLICKHOUSE_HTTPS_PORT`,
      );
  }
  if (nodes.length > 1) await startZookeeper(cfg, log);
  await Promise.all(stopped.map((n) => startClickhouseNode(cfg, n, log)));
  return 'started';
}

/** Stops every ClickHouse server the stack started, then its ZooKeeper. */
export async function stopClickhouse(cfg: Config): Promise<string[]> {
  const stopped = await Promise.all(
    everyClickhouseNode(cfg).map(async (n) =>
      (await stopProcess(clickhouseNodeProcess(cfg, n))) ? [n.name] : [],
    ),
  );
  const zk = (await stopProcess(zookeeperProcess(cfg))) ? ['zookeeper'] : [];
  return [...stopped.flat(), ...zk];
}
