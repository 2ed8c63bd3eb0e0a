/**
 * The worker's publish stage: predictions and dead letters go to Kafka (@platformatic/kafka,
 * lib/kafka-producer.ts) with `acks: -1`, chunked under the broker's request limit, retried through outages (offsets stay uncommitted meanwhile).
 */
import type { Config } from '../lib/config.ts';
import { classifyKafkaError } from '../lib/kafka-errors.ts';
import type { KafkaProducer } from '../lib/kafka-producer.ts';
import { type RetryOptions, withRetry } from '../lib/retry.ts';
import type { DeadLetter } from '../schemas/dead-letter.ts';
import type { FeedMessage } from '../warehouse/feed-text.ts';

/**
 * A consumed batch can be a few MB of predictions; the broker refuses a record batch over
 * `message.max.bytes` (1 MB by default) with a non-retriable error, so sends are chunked.
 */
const MAX_REQUEST_BYTES = 512 * 1024;

export function chunkBySize<T extends { value: string }>(items: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = Buffer.byteLength(item.value) + 64;
    if (current.length && bytes + size > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

export function createPublishStage(deps: { cfg: Config; producer: KafkaProducer; retry: RetryOptions }) {
  const { cfg, producer } = deps;
  return {
    /**
     * A scoring run's predictions (ScoredEvent messages, warehouse/feed-text.ts) and dead letters,
     * in as few produce requests as fit; returns when the broker acknowledged them all.
     */
    async run(feed: readonly FeedMessage[], dead: readonly DeadLetter[]) {
      const outgoing = [
        ...feed.map((m) => ({ topic: cfg.topicPredictions, key: m.key, value: m.value })),
        ...dead.map((d) => ({ topic: cfg.topicDeadLetters, key: d.key ?? null, value: JSON.stringify(d) })),
      ];
      for (const chunk of chunkBySize(outgoing, MAX_REQUEST_BYTES))
        await withRetry(
          'publish predictions',
          () => producer.sendMany(chunk),
          deps.retry,
          (err) => classifyKafkaError(err, 'publish predictions'),
        );
    },

    /** Dead letters found after scoring (rows ClickHouse refused). */
    async deadLetters(dead: readonly DeadLetter[]) {
      await withRetry(
        'publish dead letters',
        () =>
          producer.send(
            cfg.topicDeadLetters,
            dead.map((d) => ({ key: d.key ?? null, value: JSON.stringify(d) })),
          ),
        deps.retry,
        (err) => classifyKafkaError(err, 'publish dead letters'),
      );
    },
  };
}

export type PublishStage = ReturnType<typeof createPublishStage>;
