/**
 * A real single-node Apache Kafka broker in KRaft mode, from Maven Central jars (no Docker, no
 * tarball download). First start resolves the jars with Maven into a git-ignored folder; later
 * starts are offline.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config.ts';
import { kafkaProblem } from '../../lib/kafka.ts';
import { HitstreamError } from '../../lib/errors.ts';
import { REPO_ROOT, stackPaths } from './paths.ts';
import { ensureTlsMaterial, type TlsMaterial } from './tls-material.ts';
import { type ManagedProcess, portOpen, runningPid, startDetached, waitUntil } from './processes.ts';

export function kafkaProcess(cfg: Config): ManagedProcess {
  const p = stackPaths(cfg);
  return { name: 'kafka', pidFile: join(p.run, 'kafka.pid'), marker: join(p.kafkaDir, 'server.properties') };
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
  const { kafkaLib } = stackPaths(cfg);
  const have =
    existsSync(kafkaLib) && readdirSync(kafkaLib).some((f) => f.startsWith(`kafka_2.13-${cfg.kafkaVersion}`));
  if (have) return kafkaLib;
  requireTool(
    'mvn',
    ['-v'],
    'Maven fetches the Kafka jars from Maven Central (Debian: apt-get install maven).',
  );
  log(`fetching Kafka ${cfg.kafkaVersion} jars from Maven Central into ${kafkaLib} (once)`);
  mkdirSync(kafkaLib, { recursive: true });
  // Maven 3.8 writes colour resets to both streams even with -q and style.color=never: its output
  // is kept and shown only when it fails.
  try {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        join(REPO_ROOT, 'infra/kafka/pom.xml'),
        'dependency:copy-dependencies',
        `-Dkafka.version=${cfg.kafkaVersion}`,
        `-DoutputDirectory=${kafkaLib}`,
        '-DincludeScope=runtime',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
  } catch (err) {
    const { stdout = '', stderr = '' } = err as { stdout?: string; stderr?: string };
    process.stderr.write(stdout + stderr);
    throw new HitstreamError(
      'STACK_KAFKA_JARS',
      `Maven could not fetch the Kafka ${cfg.kafkaVersion} jars (its errors are above): check access to Maven Central, or pick another version with HITSTREAM_KAFKA_VERSION`,
    );
  }
  return kafkaLib;
}

/**
 * Besides PLAINTEXT: a SASL_SSL listener (PLAIN and SCRAM-SHA-256/512, one user) and an SSL one
 * that requires a client certificate (named MTLS), both with a certificate from the stack's CA.
 * Kafka reads PEM directly (KIP-651): no Java keystore. Brokers talk to each other in plaintext.
 */
function secureListenerLines(cfg: Config, tls: TlsMaterial): string[] {
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

function writeKafkaConfig(cfg: Config, tls: TlsMaterial): string {
  const p = stackPaths(cfg);
  mkdirSync(p.kafkaDir, { recursive: true });
  const props = join(p.kafkaDir, 'server.properties');
  writeFileSync(
    props,
    [
      '# Written by `hitstream stack up`; edits are overwritten.',
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${cfg.kafkaControllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${cfg.kafkaPort},CONTROLLER://127.0.0.1:${cfg.kafkaControllerPort},SASL_SSL://127.0.0.1:${cfg.kafkaSaslSslPort},MTLS://127.0.0.1:${cfg.kafkaMtlsPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${cfg.kafkaPort},SASL_SSL://127.0.0.1:${cfg.kafkaSaslSslPort},MTLS://127.0.0.1:${cfg.kafkaMtlsPort}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL',
      ...secureListenerLines(cfg, tls),
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${p.kafkaData}`,
      `num.partitions=${cfg.tracksPartitions}`,
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      // A single local broker: consumers should not wait 3 s for a group that will never grow.
      'group.initial.rebalance.delay.ms=0',
      // Topics are created explicitly with the partition count hitstream wants.
      'auto.create.topics.enable=false',
      'message.max.bytes=1048588',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(p.kafkaDir, 'log4j2.yaml'),
    'Configuration:\n  Appenders:\n    Console:\n      name: STDOUT\n      PatternLayout:\n        pattern: "[%d] %p %m (%c)%n"\n' +
      '  Loggers:\n    Root:\n      level: WARN\n      AppenderRef:\n        - ref: STDOUT\n',
  );
  return props;
}

export async function kafkaAnswers(brokers: string[]): Promise<boolean> {
  return (await kafkaProblem(brokers)) === undefined;
}

/** Starts the broker unless ours already runs. Returns what it did. */
export async function startKafka(cfg: Config, log: (msg: string) => void): Promise<'started' | 'running'> {
  const proc = kafkaProcess(cfg);
  const brokers = [`127.0.0.1:${cfg.kafkaPort}`];
  if (runningPid(proc) !== undefined) {
    await waitUntil(() => kafkaAnswers(brokers), { timeoutMs: 60_000, what: 'Kafka' });
    return 'running';
  }
  for (const port of [cfg.kafkaPort, cfg.kafkaControllerPort, cfg.kafkaSaslSslPort, cfg.kafkaMtlsPort]) {
    if (await portOpen('127.0.0.1', port))
      throw new HitstreamError(
        'STACK_PORT_IN_USE',
        `port ${port} is in use by another process: stop it or set HITSTREAM_KAFKA_PORT / HITSTREAM_KAFKA_CONTROLLER_PORT / HITSTREAM_KAFKA_SASL_SSL_PORT / HITSTREAM_KAFKA_MTLS_PORT`,
      );
  }
  checkJava();
  const lib = ensureKafkaJars(cfg, log);
  const tls = ensureTlsMaterial(stackPaths(cfg).tls, log);
  const props = writeKafkaConfig(cfg, tls);
  const p = stackPaths(cfg);
  const classpath = `${lib}/*`;
  if (!existsSync(join(p.kafkaData, 'meta.properties'))) {
    const clusterId = execFileSync('java', ['-cp', classpath, 'kafka.tools.StorageTool', 'random-uuid'], {
      encoding: 'utf8',
    }).trim();
    execFileSync(
      'java',
      [
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        props,
        // SCRAM users live in the cluster's metadata; the tools that add them later are not in
        // the jars the stack fetches, so they are added when the storage is formatted.
        '--add-scram',
        `SCRAM-SHA-256=[name=${tls.user},password=${tls.password}]`,
        '--add-scram',
        `SCRAM-SHA-512=[name=${tls.user},password=${tls.password}]`,
      ],
      { stdio: 'ignore' },
    );
  }
  const logFile = join(p.logs, 'kafka.log');
  const pid = startDetached(
    proc,
    'java',
    [
      `-Xmx${cfg.kafkaHeapMb}m`,
      `-Xms${Math.min(512, cfg.kafkaHeapMb)}m`,
      '-XX:+UseG1GC',
      `-Dlog4j2.configurationFile=${join(p.kafkaDir, 'log4j2.yaml')}`,
      '-cp',
      classpath,
      'kafka.Kafka',
      props,
    ],
    { logFile },
  );
  await waitUntil(() => kafkaAnswers(brokers), { timeoutMs: 90_000, what: 'Kafka', pid, logFile });
  return 'started';
}
