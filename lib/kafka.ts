import { Kafka, logLevel, type logCreator } from 'kafkajs';
import type { Config } from './config.ts';
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

/** Creates hitstream's topics if they are missing (idempotent). */
export async function ensureTopics(cfg: Config, kafka = createKafka(cfg, 'hitstream-admin')): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: cfg.topicTracks, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicPredictions, numPartitions: cfg.tracksPartitions },
      { topic: cfg.topicDeadLetters, numPartitions: 1 },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length) await admin.createTopics({ topics: wanted, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
