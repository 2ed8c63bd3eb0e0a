/**
 * A standalone Apache ZooKeeper from Maven Central jars, for the native stack's ClickHouse
 * replicas (18.16 has no built-in Keeper). Fetched once into a git-ignored folder, like Kafka.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { ensureJars } from './maven-jars.ts';
import { stackPaths } from './paths.ts';
import { type ManagedProcess, portOpen, runningPid, startDetached, waitUntil } from './processes.ts';

const dirOf = (cfg: Config) => join(stackPaths(cfg).home, 'zookeeper');

export function zookeeperProcess(cfg: Config): ManagedProcess {
  return {
    name: 'zookeeper',
    pidFile: join(stackPaths(cfg).run, 'zookeeper.pid'),
    marker: join(dirOf(cfg), 'zoo.cfg'),
  };
}

function ensureZookeeperJars(cfg: Config, log: (msg: string) => void): string {
  return ensureJars(
    {
      what: 'ZooKeeper',
      pom: 'zookeeper',
      property: 'zookeeper.version',
      version: cfg.zookeeperVersion,
      marker: `zookeeper-${cfg.zookeeperVersion}`,
      versionSetting: 'HITSTREAM_ZOOKEEPER_VERSION',
      lib: join(dirOf(cfg), cfg.zookeeperVersion, 'lib'),
    },
    log,
  );
}

/**
 * True when ZooKeeper serves clients: its `srvr` answer names a mode. `ruok` says `imok` earlier,
 * while sessions still fail; a ClickHouse 18.16 whose first ZooKeeper session failed that way
 * segfaulted in its DDL worker a moment after it answered.
 */
export function zookeeperAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('srvr'));
    socket.on('data', (d) => (reply += d.toString()));
    socket.once('end', () => resolve(/^Mode: /m.test(reply)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

export async function startZookeeper(
  cfg: Config,
  log: (msg: string) => void,
): Promise<'started' | 'running'> {
  const proc = zookeeperProcess(cfg);
  if (runningPid(proc) !== undefined) return 'running';
  if (await portOpen('127.0.0.1', cfg.zookeeperPort))
    throw new HitstreamError(
      'STACK_PORT_IN_USE',
      `port ${cfg.zookeeperPort} is in use by another process: stop it or set HITSTREAM_ZOOKEEPER_PORT`,
    );
  const lib = ensureZookeeperJars(cfg, log);
  const dir = dirOf(cfg);
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(
    proc.marker,
    [
      '# Written by `hitstream stack up`; edits are overwritten.',
      'tickTime=2000',
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${cfg.zookeeperPort}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr',
      '',
    ].join('\n'),
  );
  const logFile = join(stackPaths(cfg).logs, 'zookeeper.log');
  const pid = startDetached(
    proc,
    'java',
    [
      '-Xmx256m',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      `${lib}/*`,
      'org.apache.zookeeper.server.quorum.QuorumPeerMain',
      proc.marker,
    ],
    { logFile },
  );
  await waitUntil(() => zookeeperAnswers(cfg.zookeeperPort), {
    timeoutMs: 60_000,
    what: 'ZooKeeper',
    pid,
    logFile,
  });
  return 'started';
}
