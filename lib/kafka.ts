import { readFileSync } from 'node:fs';
import { Kafka, type KafkaConfig, logLevel, type logCreator, type SASLOptions } from 'kafkajs';
import type { Config } from './config.ts';
import { HitstreamError } from './errors.ts';
import { brokerErrorTypes } from './kafka-errors.ts';
import { createLogger } from './logger.ts';
import { firstSpeakingTls } from './tls-probe.ts';
import './kafkajs-negative-timer.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export const ROUTINE_KAFKA_ERRORS =
  /rebalanc|coordinator is not available|not the correct coordinator|coordinator is loading|not the leader for that topic-partition|leadership election|There is no leader for this topic-partition/i;

/** kafkajs logs through pino, as structured lines like everything else. */
const pinoLogCreator: logCreator = () => {
  const log = createLogger('kafkajs');
  return ({ level, log: entry }) => {
    const { message, ...fields } = entry;
    // kafkajs logs at ERROR the broker's answers it retries by itself: during a group rebalance,
    // and on a fresh or restarted broker while the coordinator loads or a partition's leader is
    // elected. They are expected, and a newcomer read them as failures; one that lasts ends in an
    // error that is said where it is thrown.
    const routine =
      ROUTINE_KAFKA_ERRORS.test(`${message} ${String(fields.error ?? '')}`) ||
      /^Restarting the consumer in/.test(String(message));
    log[routine ? 'debug' : (LEVELS[level] ?? 'info')](fields, message);
  };
};

/** The security part of a client's settings: TLS (with a CA, mutual) and SASL, from the config. */
export type KafkaSecurity = Pick<KafkaConfig, 'ssl' | 'sasl'>;

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
    } as SASLOptions;
  return out;
}

export function createKafka(cfg: Config, clientId: string): Kafka {
  return new Kafka({
    ...kafkaSecurity(cfg),
    brokers: cfg.kafkaBrokers,
    clientId,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator,
    // Keep retrying while a broker restarts, rather than giving up after kafkajs' default ~10 s.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 30 },
  });
}

/**
 * Producers never retry a send inside kafkajs: `withRetry` (lib/retry.ts) sends the whole request
 * again, saying what is wrong while it waits. Why not kafkajs' own retries: kafkajs 2.2.4 keeps
 * each broker's success across the retries of one send, so when a partition's leader dies and
 * the partition moves to a broker that had already answered for other partitions, its messages
 * are never sent and `send()` still resolves (kafkajs#1303, fix proposed in kafkajs#1798, not
 * released). Measured here: a SIGKILLed leader lost one batch of 25 acknowledged events in a
 * 2,964-event replay. A whole resend duplicates the partitions that had succeeded; the event id
 * header makes those copies the same events, which storage keeps once.
 */
export const PRODUCER_RETRY = { retries: 0 };

/**
 * A consumer's `retry` that never restarts it once `stopped()` is true. kafkajs restarts a crashed
 * consumer from a timer it sets after its crash handler's own disconnect; a stop that lands
 * meanwhile cleared no timer yet, and the consumer came back after it was stopped (CI: a stopped
 * feed consumer kept reconnecting to brokers already shut down, and its process never exited).
 */
export const restartUnless = (stopped: () => boolean) => ({
  // kafkajs' consumer default, which a `retry` of our own replaces by the client's 30: with 30,
  // a consumer that lost the group's coordinator retried for ~2.5 min before the crash and
  // restart that find the new one, and stored nothing meanwhile (replicated-kafka test).
  retries: 5,
  restartOnFailure: () => Promise.resolve(!stopped()),
});

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
 * from TLS and SASL are the socket's and kafkajs' own words; a plaintext client at a TLS port
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
  const admin = new Kafka({
    ...security,
    brokers,
    clientId: 'hitstream-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const meta = await admin.describeCluster();
    return meta.brokers.length > 0 ? undefined : 'the cluster lists no brokers';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await admin.disconnect().catch(() => undefined);
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

/** Creates hitstream's topics if they are missing (idempotent); the first thing commands ask of Kafka. */
export async function ensureTopics(
  cfg: Config,
  opts: Parameters<typeof requireKafka>[1] & { log?: (msg: string) => void } = {},
  kafka = createKafka(cfg, 'hitstream-admin'),
): Promise<void> {
  await requireKafka(cfg, opts);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const brokers = (await admin.describeCluster()).brokers.length;
    const { replicationFactor, minInsync } = topicReplication(cfg, brokers);
    const replicated = (t: {
      topic: string;
      numPartitions: number;
      configEntries?: { name: string; value: string }[];
    }) => ({
      ...t,
      replicationFactor,
      configEntries: [...(t.configEntries ?? []), { name: 'min.insync.replicas', value: String(minInsync) }],
    });
    const existing = new Set(await admin.listTopics());
    const all = [
      { topic: cfg.topicTracks, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicPredictions, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicDeadLetters, numPartitions: 1 },
      { topic: cfg.topicLabels, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicAlerts, numPartitions: 1 },
      // One key (`roles`) whose latest value is the whole role state: compaction keeps it forever.
      {
        topic: cfg.topicModels,
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ];
    // Partitions matter for the tracks topic only: they cap how many workers share the stream.
    const present = all
      .filter((t) => existing.has(t.topic))
      .map((t) => ({ ...t, numPartitions: t.topic === cfg.topicTracks ? t.numPartitions : 0 }));
    await warnAboutExisting(admin, present, replicationFactor, opts.log);
    const wanted = all.filter((t) => !existing.has(t.topic)).map(replicated);
    if (!wanted.length) return;
    // kafkajs's own wait (waitForLeaders) asks one broker once and fails on UNKNOWN_TOPIC_OR_PARTITION:
    // on a KRaft cluster the broker it asks may not have heard of the new topic yet (CI saw it).
    await admin.createTopics({ topics: wanted, waitForLeaders: false });
    await waitForLeaders(
      admin,
      wanted.map((t) => t.topic),
    );
  } finally {
    await admin.disconnect();
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
  admin: ReturnType<Kafka['admin']>,
  topics: { topic: string; numPartitions: number }[],
  replicationFactor: number,
  log: ((msg: string) => void) | undefined,
): Promise<void> {
  if (!topics.length) return;
  const say = log ?? ((msg: string) => createLogger('kafka-topics').warn(msg));
  const { topics: found } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
  for (const t of topics) {
    const meta = found.find((m) => m.name === t.topic);
    if (meta?.partitions.length)
      for (const msg of topicShortfalls(meta, { ...t, replicationFactor })) say(msg);
  }
}

/** Errors a broker gives about a topic created a moment ago, before the metadata reached it. */
const NOT_YET_KNOWN = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);
/** ...and while its leader does not serve it yet (kafkajs' name, and the protocol's since 2.4). */
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
      const types = brokerErrorTypes(err);
      if (!types.some((t) => NOT_YET_KNOWN.has(t) || NOT_LEADER_YET.has(t)) || Date.now() > deadline)
        throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until every partition of the topics has a leader, or names the topics that have none. */
export async function waitForLeaders(
  admin: Pick<ReturnType<Kafka['admin']>, 'fetchTopicMetadata'>,
  topics: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waitingFor = topics;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      waitingFor = topics.filter((name) => {
        const partitions = found.find((t) => t.name === name)?.partitions ?? [];
        return !partitions.length || partitions.some((p) => p.leader < 0);
      });
      if (!waitingFor.length) return;
    } catch (err) {
      if (!NOT_YET_KNOWN.has((err as { type?: string }).type ?? '')) throw err;
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
