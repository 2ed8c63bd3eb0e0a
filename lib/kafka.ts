import { Kafka, logLevel, type logCreator } from 'kafkajs';
import type { Config } from './config.ts';
import { HitstreamError } from './errors.ts';
import { createLogger } from './logger.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logs through pino, as structured lines like everything else. */
const pinoLogCreator: logCreator = () => {
  const log = createLogger('kafkajs');
  return ({ level, log: entry }) => {
    const { message, ...fields } = entry;
    // kafkajs logs the broker's answers during a normal group rebalance at ERROR; they are expected.
    const routine = /rebalanc|coordinator is not available|not the correct coordinator/i.test(
      String(fields.error ?? ''),
    );
    log[routine ? 'debug' : (LEVELS[level] ?? 'info')](fields, message);
  };
};

export function createKafka(cfg: Config, clientId: string): Kafka {
  return new Kafka({
    brokers: cfg.kafkaBrokers,
    clientId,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator,
    // Keep retrying while a broker restarts, rather than giving up after kafkajs' default ~10 s.
    retry: { initialRetryTime: 300, maxRetryTime: 5_000, retries: 30 },
  });
}

/**
 * Why no broker in `brokers` answers as Kafka (connection refused, closed, timed out), or
 * undefined when one does. One attempt, no retries: for health checks and preflights.
 */
export async function kafkaProblem(brokers: string[], timeoutMs = 3_000): Promise<string | undefined> {
  const admin = new Kafka({
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
  let lastSaid = 0;
  for (;;) {
    const problem = await kafkaProblem(cfg.kafkaBrokers);
    if (!problem) return;
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
  opts: Parameters<typeof requireKafka>[1] = {},
  kafka = createKafka(cfg, 'hitstream-admin'),
): Promise<void> {
  await requireKafka(cfg, opts);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: cfg.topicTracks, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicPredictions, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicDeadLetters, numPartitions: 1 },
      // One key (`roles`) whose latest value is the whole role state: compaction keeps it forever.
      {
        topic: cfg.topicModels,
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** How a service waits for Kafka at start: up to 2.5 minutes (as long as the client retries). */
export const SERVICE_KAFKA_WAIT = (log: { warn: (fields: object, msg: string) => void }) => ({
  waitMs: 150_000,
  onWait: (problem: string, brokers: string[]) =>
    log.warn({ brokers, problem }, 'waiting for Kafka (KAFKA_BROKERS) to answer'),
});
