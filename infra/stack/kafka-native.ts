/**
 * Real Apache Kafka in KRaft mode from Maven Central jars (no Docker, no tarball download): one
 * node that is broker and controller, or (`stack up --brokers 3`) a replicated cluster of one
 * controller and N brokers. First start resolves the jars with Maven into a git-ignored folder;
 * later starts are offline.
 *
 * Why a separate controller in the cluster: with three combined nodes, stopping two also loses
 * the controller quorum, and then no ISR shrinks and nothing says "not enough in-sync replicas";
 * writes just time out. One controller keeps the brokers the thing that fails, which is what the
 * replication settings are about. A production cluster runs three controllers.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import type { Config } from '../../lib/config.ts';
import { kafkaProblem } from '../../lib/kafka.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { ensureJars } from './maven-jars.ts';
import { stackPaths } from './paths.ts';
import { ensureTlsMaterial, type TlsMaterial } from './tls-material.ts';
import {
  type ManagedProcess,
  portOpen,
  runningPid,
  startDetached,
  stopProcess,
  waitUntil,
} from './processes.ts';

/** One JVM of the stack: its role, where it keeps its files, and the ports it listens on. */
export interface KafkaNode {
  id: number;
  role: 'combined' | 'controller' | 'broker';
  /** Also its PID file's name: `kafka` (one node), `kafka-controller`, `kafka-1` … */
  name: string;
  dir: string;
  data: string;
  /** Client listeners; undefined on the controller. */
  ports?: { plaintext: number; saslSsl: number; mtls: number };
}

const CONTROLLER_ID = 100;
/** Broker i of a cluster listens on the configured ports plus (i − 1) · 100. */
const PORT_STEP = 100;
export const MAX_STACK_BROKERS = 5;

/** The nodes `stack up` runs for `brokers` brokers. */
export function kafkaNodes(cfg: Config, brokers = cfg.stackKafkaBrokers): KafkaNode[] {
  const p = stackPaths(cfg);
  const ports = (i: number) => ({
    plaintext: cfg.kafkaPort + (i - 1) * PORT_STEP,
    saslSsl: cfg.kafkaSaslSslPort + (i - 1) * PORT_STEP,
    mtls: cfg.kafkaMtlsPort + (i - 1) * PORT_STEP,
  });
  if (brokers <= 1)
    return [{ id: 1, role: 'combined', name: 'kafka', dir: p.kafkaDir, data: p.kafkaData, ports: ports(1) }];
  const cluster = join(p.kafkaDir, 'cluster');
  const node = (id: number, role: KafkaNode['role'], name: string, i?: number): KafkaNode => ({
    id,
    role,
    name,
    dir: join(cluster, name),
    data: join(cluster, name, 'data'),
    ...(i ? { ports: ports(i) } : {}),
  });
  return [
    node(CONTROLLER_ID, 'controller', 'kafka-controller'),
    ...Array.from({ length: brokers }, (_, k) => node(k + 1, 'broker', `kafka-${k + 1}`, k + 1)),
  ];
}

export function nodeProcess(cfg: Config, node: KafkaNode): ManagedProcess {
  return {
    name: node.name,
    pidFile: join(stackPaths(cfg).run, `${node.name}.pid`),
    marker: join(node.dir, 'server.properties'),
  };
}

const execFileAsync = promisify(execFile);

/** The single-node broker's process (tests stop and restart it). */
export function kafkaProcess(cfg: Config): ManagedProcess {
  return nodeProcess(cfg, kafkaNodes(cfg, 1)[0]!);
}

/** Every node either layout may have started: what `stack down` looks for. */
export function everyKafkaNode(cfg: Config): KafkaNode[] {
  return [...kafkaNodes(cfg, 1), ...kafkaNodes(cfg, MAX_STACK_BROKERS)];
}

/** `host:port` of each broker's plaintext listener. */
export function brokerList(nodes: KafkaNode[]): string[] {
  return nodes.flatMap((n) => (n.ports ? [`127.0.0.1:${n.ports.plaintext}`] : []));
}

function requireTool(cmd: string, args: string[], hint: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new HitstreamError('STACK_MISSING_TOOL', `${cmd} is missing: ${hint}`);
  return `${r.stdout}${r.stderr}`;
}

function checkJava(): void {
  const out = requireTool(
    'java',
    ['-version'],
    'Kafka needs Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless).',
  );
  const major = Number(/version "(\d+)/.exec(out)?.[1] ?? 0);
  if (major < 17)
    throw new HitstreamError('STACK_MISSING_TOOL', `Kafka 4 needs Java 17 or newer; found Java ${major}.`);
}

/** Resolves the broker's jars once; returns the lib folder. */
export function ensureKafkaJars(cfg: Config, log: (msg: string) => void): string {
  return ensureJars(
    {
      what: 'Kafka',
      pom: 'kafka',
      property: 'kafka.version',
      version: cfg.kafkaVersion,
      marker: `kafka_2.13-${cfg.kafkaVersion}`,
      versionSetting: 'HITSTREAM_KAFKA_VERSION',
      lib: stackPaths(cfg).kafkaLib,
    },
    log,
  );
}

/**
 * Besides PLAINTEXT: a SASL_SSL listener (PLAIN and SCRAM-SHA-256/512, one user) and an SSL one
 * that requires a client certificate (named MTLS), both with a certificate from the stack's CA.
 * Kafka reads PEM directly (KIP-651): no Java keystore. Brokers talk to each other in plaintext.
 */
function secureListenerLines(tls: TlsMaterial): string[] {
  const plain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${tls.user}="${tls.password}";`;
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return [
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${tls.serverKeystore}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${tls.caFile}`,
    'listener.name.mtls.ssl.client.auth=required',
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=${plain}`,
    `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
  ];
}

/** The broker part of a node's properties: client listeners, logs, internal topics' replication. */
function brokerLines(cfg: Config, node: KafkaNode, tls: TlsMaterial, brokers: number): string[] {
  const { plaintext, saslSsl, mtls } = node.ports!;
  const replicas = Math.min(3, brokers);
  const client = `PLAINTEXT://127.0.0.1:${plaintext},SASL_SSL://127.0.0.1:${saslSsl},MTLS://127.0.0.1:${mtls}`;
  return [
    `advertised.listeners=${client}`,
    ...secureListenerLines(tls),
    'inter.broker.listener.name=PLAINTEXT',
    `num.partitions=${cfg.tracksPartitions}`,
    `offsets.topic.replication.factor=${replicas}`,
    `transaction.state.log.replication.factor=${replicas}`,
    `transaction.state.log.min.isr=${Math.min(2, replicas)}`,
    // A local cluster: consumers should not wait 3 s for a group that will never grow.
    'group.initial.rebalance.delay.ms=0',
    // Topics are created explicitly with the partition count hitstream wants.
    'auto.create.topics.enable=false',
    'message.max.bytes=1048588',
  ];
}

function writeNodeConfig(cfg: Config, node: KafkaNode, tls: TlsMaterial, brokers: number): string {
  mkdirSync(node.dir, { recursive: true });
  const props = join(node.dir, 'server.properties');
  const controller = `CONTROLLER://127.0.0.1:${cfg.kafkaControllerPort}`;
  const client = node.ports
    ? `PLAINTEXT://127.0.0.1:${node.ports.plaintext},SASL_SSL://127.0.0.1:${node.ports.saslSsl},MTLS://127.0.0.1:${node.ports.mtls}`
    : '';
  const roles = { combined: 'broker,controller', controller: 'controller', broker: 'broker' }[node.role];
  const listeners = [...(node.role === 'broker' ? [] : [controller]), ...(client ? [client] : [])];
  writeFileSync(
    props,
    [
      '# Written by `hitstream stack up`; edits are overwritten.',
      `process.roles=${roles}`,
      `node.id=${node.id}`,
      `controller.quorum.voters=${node.role === 'combined' ? 1 : CONTROLLER_ID}@127.0.0.1:${cfg.kafkaControllerPort}`,
      `listeners=${listeners.join(',')}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL',
      `log.dirs=${node.data}`,
      // In a cluster, a killed broker is fenced (and leaves the ISRs) after 4 s instead of 9.
      ...(node.role === 'combined'
        ? []
        : ['broker.session.timeout.ms=4000', 'broker.heartbeat.interval.ms=500']),
      ...(node.ports ? brokerLines(cfg, node, tls, brokers) : []),
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(node.dir, 'log4j2.yaml'),
    'Configuration:\n  Appenders:\n    Console:\n      name: STDOUT\n      PatternLayout:\n        pattern: "[%d] %p %m (%c)%n"\n' +
      '  Loggers:\n    Root:\n      level: WARN\n      AppenderRef:\n        - ref: STDOUT\n',
  );
  return props;
}

export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  return (await kafkaProblem(brokers)) === undefined;
}

/** The cluster id a node's storage was formatted with, if it was. */
function formattedClusterId(node: KafkaNode): string | undefined {
  const meta = join(node.data, 'meta.properties');
  if (!existsSync(meta)) return undefined;
  return /^cluster\.id=(.+)$/m.exec(readFileSync(meta, 'utf8'))?.[1]?.trim();
}

/** Formats a node's storage for `clusterId`; SCRAM users go into the controller's bootstrap. */
async function formatNode(
  classpath: string,
  node: KafkaNode,
  props: string,
  clusterId: string,
  tls: TlsMaterial,
) {
  const scram =
    node.role === 'broker'
      ? []
      : // SCRAM users live in the cluster's metadata; the tools that add them later are not in
        // the jars the stack fetches, so they are added when the storage is formatted.
        [
          '--add-scram',
          `SCRAM-SHA-256=[name=${tls.user},password=${tls.password}]`,
          '--add-scram',
          `SCRAM-SHA-512=[name=${tls.user},password=${tls.password}]`,
        ];
  await execFileAsync('java', [
    '-cp',
    classpath,
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId,
    '-c',
    props,
    ...scram,
  ]);
}

function portHint(): string {
  return 'stop it or set HITSTREAM_KAFKA_PORT / HITSTREAM_KAFKA_CONTROLLER_PORT / HITSTREAM_KAFKA_SASL_SSL_PORT / HITSTREAM_KAFKA_MTLS_PORT';
}

async function requireFreePorts(cfg: Config, nodes: KafkaNode[]): Promise<void> {
  const ports = [cfg.kafkaControllerPort, ...nodes.flatMap((n) => (n.ports ? Object.values(n.ports) : []))];
  for (const port of ports)
    if (await portOpen('127.0.0.1', port))
      throw new HitstreamError(
        'STACK_PORT_IN_USE',
        `port ${port} is in use by another process: ${portHint()}`,
      );
}

/** The other layout's nodes that run: one broker and a cluster cannot share the ports. */
function requireNoOtherLayout(cfg: Config, brokers: number): void {
  const other = brokers > 1 ? kafkaNodes(cfg, 1) : kafkaNodes(cfg, MAX_STACK_BROKERS);
  const running = other.filter((n) => runningPid(nodeProcess(cfg, n)) !== undefined);
  const runningBrokers = running.filter((n) => n.ports).length;
  if (running.length)
    throw new HitstreamError(
      'STACK_LAYOUT_RUNNING',
      `a Kafka stack with ${runningBrokers === 1 ? 'one broker' : `${runningBrokers} brokers`} is running (${running.map((n) => n.name).join(', ')}), not the ${brokers} asked for: use it with \`--brokers ${runningBrokers}\` or HITSTREAM_STACK_KAFKA_BROKERS=${runningBrokers}, or run \`npx hitstream stack down\` first`,
      { field: 'HITSTREAM_STACK_KAFKA_BROKERS' },
    );
}

/** Starts one node's JVM (its storage formatted already). */
export function startNode(cfg: Config, node: KafkaNode): number {
  const p = stackPaths(cfg);
  const heap = node.role === 'controller' ? 256 : cfg.kafkaHeapMb;
  return startDetached(
    nodeProcess(cfg, node),
    'java',
    [
      `-Xmx${heap}m`,
      `-Xms${Math.min(node.role === 'combined' ? 512 : 256, heap)}m`,
      '-XX:+UseG1GC',
      `-Dlog4j2.configurationFile=${join(node.dir, 'log4j2.yaml')}`,
      '-cp',
      `${ensureKafkaJars(cfg, () => undefined)}/*`,
      'kafka.Kafka',
      join(node.dir, 'server.properties'),
    ],
    { logFile: join(p.logs, `${node.name}.log`) },
  );
}

/** Waits until every broker answers and the cluster's metadata lists all of them. */
async function waitForBrokers(cfg: Config, nodes: KafkaNode[], pids: Map<string, number>): Promise<void> {
  const p = stackPaths(cfg);
  for (const node of nodes.filter((n) => n.ports)) {
    const logFile = join(p.logs, `${node.name}.log`);
    await waitUntil(() => kafkaAnswers(brokerList([node])), {
      timeoutMs: 90_000,
      what: `Kafka ${node.name}`,
      pid: pids.get(node.name),
      logFile,
    });
  }
  const expected = brokerList(nodes).length;
  if (expected > 1)
    await waitUntil(async () => (await clusterBrokerCount(brokerList(nodes))) >= expected, {
      timeoutMs: 60_000,
      what: `a Kafka cluster of ${expected} brokers`,
    });
}

async function clusterBrokerCount(brokers: string[]): Promise<number> {
  const admin = new Admin({ clientId: 'hitstream-stack', bootstrapBrokers: brokers, retries: 0 });
  try {
    return (await admin.metadata({ topics: [] })).brokers.size;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Starts the nodes of `cfg.stackKafkaBrokers` that do not run yet (formatting new storage first),
 * and waits for all of them. Returns what it did.
 */
export async function startKafka(cfg: Config, log: (msg: string) => void): Promise<'started' | 'running'> {
  const brokers = cfg.stackKafkaBrokers;
  const nodes = kafkaNodes(cfg, brokers);
  requireNoOtherLayout(cfg, brokers);
  const stopped = nodes.filter((n) => runningPid(nodeProcess(cfg, n)) === undefined);
  if (!stopped.length) {
    await waitForBrokers(cfg, nodes, new Map());
    return 'running';
  }
  await requireFreePorts(cfg, stopped);
  checkJava();
  const lib = ensureKafkaJars(cfg, log);
  const tls = ensureTlsMaterial(stackPaths(cfg).tls, log);
  const first = nodes[0]!;
  // A cluster whose first node (the controller) has no storage is new: every node is formatted
  // with one new id. Otherwise a node without storage joins the existing cluster's id.
  let clusterId = formattedClusterId(first);
  if (!clusterId && first.role === 'controller') rmSync(dirname(first.dir), { recursive: true, force: true });
  clusterId ??= execFileSync('java', ['-cp', `${lib}/*`, 'kafka.tools.StorageTool', 'random-uuid'], {
    encoding: 'utf8',
  }).trim();
  const pids = new Map<string, number>();
  // Each format is a JVM start (~3 s): the nodes' run side by side.
  const unformatted = nodes
    .map((node) => ({ node, props: writeNodeConfig(cfg, node, tls, brokers) }))
    .filter(({ node }) => !formattedClusterId(node));
  await Promise.all(
    unformatted.map(({ node, props }) => formatNode(`${lib}/*`, node, props, clusterId, tls)),
  );
  for (const node of stopped) pids.set(node.name, startNode(cfg, node));
  await waitForBrokers(cfg, nodes, pids);
  return 'started';
}

/**
 * Stops every Kafka node the stack started: the brokers together, then the controller (a broker's
 * controlled shutdown asks the controller to move its leaders away first).
 */
export async function stopKafka(cfg: Config): Promise<string[]> {
  const stop = async (nodes: KafkaNode[]) =>
    (
      await Promise.all(nodes.map(async (n) => ((await stopProcess(nodeProcess(cfg, n))) ? [n.name] : [])))
    ).flat();
  const nodes = everyKafkaNode(cfg);
  return [
    ...(await stop(nodes.filter((n) => n.role !== 'controller'))),
    ...(await stop(nodes.filter((n) => n.role === 'controller'))),
  ];
}
