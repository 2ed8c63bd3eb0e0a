/**
 * Hitstream's Kafka settings as @platformatic/kafka's client options, and what is asked of the
 * cluster before anything else: is a broker there (`requireKafka`), and do the topics exist
 * (`ensureTopics`). The producer and the group consumer are in kafka-producer.ts and
 * kafka-consumer.ts; every process talks to Kafka through this one client (README "Kafka client").
 */
import { readFileSync } from 'node:fs';
import { Admin, type SASLMechanismValue } from '@platformatic/kafka';
import type { Config } from './config.ts';
import { HitstreamError } from './errors.ts';
import { brokerErrorTypes, errorTexts } from './kafka-errors.ts';
import { createLogger } from './logger.ts';
import { firstSpeakingTls } from './tls-probe.ts';

/** The security part of a client's settings: TLS (with a CA, mutual) and SASL, from the config. */
export interface KafkaSecurity {
  ssl?: true | { ca?: string[]; cert?: string; key?: string };
  sasl?: { mechanism: Config['kafkaSaslMechanism']; username: string; password: string };
}

export function kafkaSecurity(cfg: Config): KafkaSecurity {
  const protocol = cfg.kafkaSecurityProtocol;
  const out: KafkaSecurity = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const read = (path: string) => (path ? readFileSync(path, 'utf8') : undefined);
    const ca = read(cfg.kafkaSslCaFile);
    const cert = read(cfg.kafkaSslCertFile);
    const key = read(cfg.kafkaSslKeyFile);
    out.ssl = ca || cert ? { ...(ca ? { ca: [ca] } : {}), ...(cert && key ? { cert, key } : {}) } : true;
  }
  if (protocol === 'SASL_SSL' || protocol === 'SASL_PLAINTEXT')
    out.sasl = {
      mechanism: cfg.kafkaSaslMechanism,
      username: cfg.kafkaSaslUsername,
      password: cfg.kafkaSaslPassword,
    };
  return out;
}

const SASL_MECHANISMS: Record<Config['kafkaSaslMechanism'], SASLMechanismValue> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** Brokers, TLS and SASL as @platformatic/kafka's client options take them. */
export function clientConnection(brokers: string[], clientId: string, { ssl, sasl }: KafkaSecurity) {
  return {
    clientId,
    bootstrapBrokers: brokers,
    ...(ssl ? { tls: ssl === true ? {} : ssl } : {}),
    ...(sasl
      ? {
          sasl: {
            mechanism: SASL_MECHANISMS[sasl.mechanism],
            username: sasl.username,
            password: sasl.password,
          },
        }
      : {}),
  };
}

/** The settings' brokers, TLS and SASL as @platformatic/kafka's client options take them. */
export function platformaticConnection(cfg: Config, clientId: string) {
  return clientConnection(cfg.kafkaBrokers, clientId, kafkaSecurity(cfg));
}

/** An admin client; close it when done (it holds connections to the brokers it asked). */
export function createAdmin(cfg: Config, clientId: string): Admin {
  return new Admin(platformaticConnection(cfg, clientId));
}

/** A probe's failure that waiting cannot fix: the settings are wrong, and which one to fix. */
export interface KafkaSetupProblem {
  problem: string;
  field: string;
  fix: string;
}

const TLS_UNTRUSTED =
  /self[- ]signed certificate|unable to verify|unable to get (local )?issuer|certificate has expired|does not match certificate|altnames/i;

/**
 * What a failed probe says about the settings, or undefined when it looks like an outage. Errors
 * from TLS and SASL are the socket's and the client's own words; a plaintext client at a TLS port
 * sees its connection closed or timed out before any answer, which is also what a restart looks
 * like, so that case is named only with the hint to check, not as certain.
 */
export function kafkaSetupProblem(problem: string, cfg: Config): KafkaSetupProblem | undefined {
  if (/SASL|authentication failed|Authentication/i.test(problem))
    return {
      problem,
      field: 'KAFKA_SASL_PASSWORD',
      fix: `the brokers refused the credentials: check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM (now ${cfg.kafkaSaslMechanism})`,
    };
  if (TLS_UNTRUSTED.test(problem))
    return {
      problem,
      field: 'KAFKA_SSL_CA_FILE',
      fix: cfg.kafkaSslCaFile
        ? `the brokers' certificate is not signed by the CA in KAFKA_SSL_CA_FILE (${cfg.kafkaSslCaFile}), or is not for this host`
        : "the brokers' certificate is not signed by a CA this machine trusts: set KAFKA_SSL_CA_FILE to the PEM of the CA that signed it",
    };
  if (
    /wrong version number|packet length too long|unknown protocol|EPROTO|before secure TLS connection/i.test(
      problem,
    )
  )
    return {
      problem,
      field: 'KAFKA_SECURITY_PROTOCOL',
      fix: `TLS handshake with a listener that does not speak TLS: KAFKA_SECURITY_PROTOCOL is ${cfg.kafkaSecurityProtocol}; the port may want PLAINTEXT or SASL_PLAINTEXT`,
    };
  if (/certificate required|alert number 116|handshake failure|alert bad certificate/i.test(problem))
    return {
      problem,
      field: 'KAFKA_SSL_CERT_FILE',
      fix: 'the listener requires a client certificate (mutual TLS): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
    };
  return undefined;
}

/**
 * Why no broker in `brokers` answers as Kafka (connection refused, closed, timed out), or
 * undefined when one does. One attempt, no retries: for health checks and preflights.
 */
export async function kafkaProblem(
  brokers: string[],
  timeoutMs = 3_000,
  security: KafkaSecurity = {},
): Promise<string | undefined> {
  const admin = new Admin({
    ...clientConnection(brokers, 'hitstream-probe', security),
    connectTimeout: timeoutMs,
    timeout: timeoutMs,
    retries: 0,
  });
  try {
    const meta = await admin.metadata({ topics: [] });
    return meta.brokers.size > 0 ? undefined : 'the cluster lists no brokers';
  } catch (err) {
    // "Cannot connect to any broker" says why only in the errors it gathers: all of them, once.
    return errorTexts(err).join(': ');
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Fails with KAFKA_UNREACHABLE when no broker answers. Commands check once (`waitMs` 0): they
 * would otherwise sit through the client's ~2.5 minutes of reconnects (the retry budget meant for
 * a broker restart), printing an error line for each. Services (workers, API) may start before
 * the broker does, so they wait up to `waitMs`, saying so in one line every ~10 s.
 */
export async function requireKafka(
  cfg: Config,
  opts: { waitMs?: number; onWait?: (problem: string, brokers: string[]) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.waitMs ?? 0);
  const security = kafkaSecurity(cfg);
  let lastSaid = 0;
  for (;;) {
    const problem = await kafkaProblem(cfg.kafkaBrokers, 3_000, security);
    if (!problem) return;
    // A wrong password or an untrusted certificate stays wrong: say so now, not in 2.5 minutes.
    const setup = kafkaSetupProblem(problem, cfg);
    if (setup)
      throw new HitstreamError(
        'KAFKA_SETUP',
        `Kafka at ${cfg.kafkaBrokers.join(', ')}: ${setup.fix} (${setup.problem})`,
        {
          field: setup.field,
        },
      );
    const tlsPort = cfg.kafkaSecurityProtocol.endsWith('SSL')
      ? undefined
      : await firstSpeakingTls(cfg.kafkaBrokers);
    if (tlsPort)
      throw new HitstreamError(
        'KAFKA_SETUP',
        `Kafka at ${tlsPort} speaks TLS, but KAFKA_SECURITY_PROTOCOL is ${cfg.kafkaSecurityProtocol}: set it to SSL or SASL_SSL (${problem})`,
        { field: 'KAFKA_SECURITY_PROTOCOL' },
      );
    if (Date.now() >= deadline)
      throw new HitstreamError(
        'KAFKA_UNREACHABLE',
        `no Kafka broker answers at ${cfg.kafkaBrokers.join(', ')} (${problem}): start the local stack with \`npx hitstream stack up\`, or set KAFKA_BROKERS to your brokers`,
        { field: 'KAFKA_BROKERS' },
      );
    if (Date.now() - lastSaid >= 10_000) {
      opts.onWait?.(problem, cfg.kafkaBrokers);
      lastSaid = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

interface WantedTopic {
  topic: string;
  numPartitions: number;
  configs?: { name: string; value: string }[];
}

/** Creates hitstream's topics if they are missing (idempotent); the first thing commands ask of Kafka. */
export async function ensureTopics(
  cfg: Config,
  opts: Parameters<typeof requireKafka>[1] & { log?: (msg: string) => void } = {},
): Promise<void> {
  await requireKafka(cfg, opts);
  const admin = createAdmin(cfg, 'hitstream-admin');
  try {
    const brokers = (await admin.metadata({ topics: [] })).brokers.size;
    const { replicationFactor, minInsync } = topicReplication(cfg, brokers);
    const existing = new Set(await admin.listTopics());
    const all: WantedTopic[] = [
      { topic: cfg.topicTracks, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicPredictions, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicDeadLetters, numPartitions: 1 },
      { topic: cfg.topicLabels, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicAlerts, numPartitions: 1 },
      // One key (`roles`) whose latest value is the whole role state: compaction keeps it forever.
      { topic: cfg.topicModels, numPartitions: 1, configs: [{ name: 'cleanup.policy', value: 'compact' }] },
    ];
    // Partitions matter for the tracks topic only: they cap how many workers share the stream.
    const present = all
      .filter((t) => existing.has(t.topic))
      .map((t) => ({ ...t, numPartitions: t.topic === cfg.topicTracks ? t.numPartitions : 0 }));
    await warnAboutExisting(admin, present, replicationFactor, opts.log);
    const wanted = all.filter((t) => !existing.has(t.topic));
    if (!wanted.length) return;
    // One request per topic: the client's createTopics takes one partition count and one set of
    // configs for all the topics it is given.
    for (const t of wanted)
      await admin
        .createTopics({
          topics: [t.topic],
          partitions: t.numPartitions,
          replicas: replicationFactor,
          configs: [...(t.configs ?? []), { name: 'min.insync.replicas', value: String(minInsync) }],
        })
        .catch((err: unknown) => {
          // Another process (the second worker of `up`) created it a moment ago: that is the goal.
          if (!brokerErrorTypes(err).includes('TOPIC_ALREADY_EXISTS')) throw err;
        });
    // A KRaft cluster's other brokers may not have heard of the new topics yet: ask until they have.
    await waitForLeaders(
      admin,
      wanted.map((t) => t.topic),
    );
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * What an existing topic lacks against the settings: hitstream creates topics but never changes
 * them, so a topic made on one broker keeps 1 replica after the cluster grows to three, and one
 * with fewer partitions caps how many workers share the stream. Said, not silently accepted.
 */
export function topicShortfalls(
  topic: { name: string; partitions: { replicas: number[] }[] },
  wanted: { numPartitions: number; replicationFactor: number },
): string[] {
  const out: string[] = [];
  const replicas = Math.min(...topic.partitions.map((p) => p.replicas.length));
  if (replicas < wanted.replicationFactor)
    out.push(
      `topic ${topic.name} has ${replicas} replica${replicas === 1 ? '' : 's'}, the settings ask for ${wanted.replicationFactor}: hitstream does not change existing topics; add replicas with kafka-reassign-partitions, or delete the topic and let hitstream create it again`,
    );
  if (topic.partitions.length < wanted.numPartitions)
    out.push(
      `topic ${topic.name} has ${topic.partitions.length} partitions, HITSTREAM_TRACKS_PARTITIONS asks for ${wanted.numPartitions}: at most ${topic.partitions.length} workers share it; add partitions with kafka-topics --alter --partitions`,
    );
  return out;
}

async function warnAboutExisting(
  admin: Admin,
  topics: { topic: string; numPartitions: number }[],
  replicationFactor: number,
  log: ((msg: string) => void) | undefined,
): Promise<void> {
  if (!topics.length) return;
  const say = log ?? ((msg: string) => createLogger('kafka-topics').warn(msg));
  const found = (await admin.metadata({ topics: topics.map((t) => t.topic), forceUpdate: true })).topics;
  for (const t of topics) {
    const meta = found.get(t.topic);
    if (meta?.partitions.length)
      for (const msg of topicShortfalls(
        { name: t.topic, partitions: meta.partitions },
        { ...t, replicationFactor },
      ))
        say(msg);
  }
}

/** Errors a broker gives about a topic created a moment ago, before the metadata reached it. */
const NOT_YET_KNOWN = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
/** ...and while its leader does not serve it yet (the protocol's older name, and its name since 2.4). */
const NOT_LEADER_YET = new Set(['NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER']);

/**
 * Runs a read of a topic created a moment ago (its end offsets), asking again while its leader
 * is not serving it yet: on KRaft the metadata can name a leader a moment before that broker
 * answers ListOffsets for the partition (NOT_LEADER_FOR_PARTITION; `up` right after `stack up`
 * stopped on it once). Any other error, or the same one after `timeoutMs`, is thrown.
 */
export async function whileTopicSettles<T>(read: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      const settling = brokerErrorTypes(err).some((t) => NOT_YET_KNOWN.has(t) || NOT_LEADER_YET.has(t));
      if (!settling || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const topicNotYetKnown = (err: unknown) => brokerErrorTypes(err).some((t) => NOT_YET_KNOWN.has(t));

/** Waits until every partition of the topics has a leader, or names the topics that have none. */
export async function waitForLeaders(
  admin: Pick<Admin, 'metadata'>,
  topics: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waitingFor = topics;
  for (;;) {
    try {
      const found = (await admin.metadata({ topics, forceUpdate: true })).topics;
      waitingFor = topics.filter((name) => {
        const partitions = found.get(name)?.partitions ?? [];
        return !partitions.length || partitions.some((p) => p.leader < 0);
      });
      if (!waitingFor.length) return;
    } catch (err) {
      if (!topicNotYetKnown(err)) throw err;
    }
    if (Date.now() > deadline)
      throw new HitstreamError(
        'KAFKA_NO_LEADER',
        `created the topics ${waitingFor.join(', ')}, but after ${timeoutMs / 1000} s some of their partitions still have no leader: check that every broker is up`,
        { retriable: true },
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Replicas and min.insync.replicas of the topics hitstream creates: the settings, or (0) 3 and 2
 * on a cluster of 3 brokers or more, 1 and 1 below. More replicas than brokers is refused here,
 * naming the setting, rather than by the broker's INVALID_REPLICATION_FACTOR.
 */
export function topicReplication(cfg: Config, brokers: number) {
  const replicationFactor = cfg.topicReplication || (brokers >= 3 ? 3 : 1);
  const minInsync = cfg.topicMinInsyncReplicas || (replicationFactor >= 3 ? 2 : 1);
  if (replicationFactor > brokers)
    throw new HitstreamError(
      'CONFIG_INVALID',
      `HITSTREAM_TOPIC_REPLICATION_FACTOR=${replicationFactor}, but the cluster has ${brokers} broker${brokers === 1 ? '' : 's'}: lower it, or set 0 to choose from the cluster`,
      { field: 'HITSTREAM_TOPIC_REPLICATION_FACTOR' },
    );
  if (minInsync > replicationFactor)
    throw new HitstreamError(
      'CONFIG_INVALID',
      `HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS=${minInsync} exceeds the ${replicationFactor} replicas: no write could ever be acknowledged`,
      { field: 'HITSTREAM_TOPIC_MIN_INSYNC_REPLICAS' },
    );
  return { replicationFactor, minInsync };
}

/** How a service waits for Kafka at start: up to 2.5 minutes (as long as the client retries). */
export const SERVICE_KAFKA_WAIT = (log: { warn: (fields: object, msg: string) => void }) => ({
  waitMs: 150_000,
  onWait: (problem: string, brokers: string[]) =>
    log.warn({ brokers, problem }, 'waiting for Kafka (KAFKA_BROKERS) to answer'),
});
