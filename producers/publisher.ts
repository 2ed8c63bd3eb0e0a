/**
 * Publishing track events: validate each record against the TrackFeatures schema, send the valid
 * ones keyed by track_id in one batched request, and answer per record. Used by the CLI, the
 * replay and POST /tracks. A send Kafka cannot take now (a broker down, too few in-sync replicas)
 * is retried with the same event ids, saying why, for `cfg.publishRetrySeconds` or the caller's
 * `retryForMs`; a copy a retry duplicates is the same event, which storage keeps once.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../lib/config.ts';
import { classifyKafkaError } from '../lib/kafka-errors.ts';
import { createProducer } from '../lib/kafka-producer.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { withRetry } from '../lib/retry.ts';
import { EVENT_ID_HEADER, type FieldError, TrackFeatures, validate } from '../schemas/index.ts';

export type PublishResult =
  | {
      index: number;
      ok: true;
      track_id: string;
      /** The id the event's rows are stored under. */ event_id: string;
    }
  | { index: number; ok: false; errors: FieldError[] };

export interface Publisher {
  /** Validates and sends; resolves when the broker acknowledged every accepted record. */
  publish(records: readonly unknown[]): Promise<PublishResult[]>;
  /** Sends other messages (alerts) to `topic`, with the same retries; resolves when acknowledged. */
  sendTo(
    topic: string,
    messages: { key?: string; value: string | Buffer; headers?: Record<string, string> }[],
  ): Promise<void>;
  close(): Promise<void>;
}

export function validateRecords(records: readonly unknown[]) {
  const results: PublishResult[] = [];
  const accepted: { event: TrackFeatures; id: string }[] = [];
  records.forEach((r, index) => {
    const v = validate(TrackFeatures, r);
    if (v.ok) {
      const id = randomUUID();
      accepted.push({ event: v.value, id });
      results.push({ index, ok: true, track_id: v.value.track_id, event_id: id });
    } else results.push({ index, ok: false, errors: v.errors });
  });
  return { results, accepted };
}

export interface PublisherOptions {
  clientId?: string;
  /** How long a send is retried while Kafka cannot take it; `cfg.publishRetrySeconds` by default. */
  retryForMs?: number;
  log?: Logger;
}

/** Async for its callers' sake; the client connects on the first send. */
export function createPublisher(
  cfg: Config,
  clientIdOrOptions: string | PublisherOptions = {},
): Promise<Publisher> {
  const opts = typeof clientIdOrOptions === 'string' ? { clientId: clientIdOrOptions } : clientIdOrOptions;
  const producer = createProducer(cfg, opts.clientId ?? 'hitstream-publisher');
  const retry = {
    log: opts.log ?? createLogger('publisher'),
    giveUpAfterMs: opts.retryForMs ?? cfg.publishRetrySeconds * 1000,
    // Short waits: a publisher has events in hand, and the reason a send fails changes fast
    // (a broker down, then too few in-sync replicas) and should be said as it does.
    maxDelayMs: 2_000,
    meanwhile: 'the events wait here; nothing is lost',
  };
  return Promise.resolve({
    async publish(records) {
      const { results, accepted } = validateRecords(records);
      // The id travels in a header so that a retried send's second copy is the same event.
      const messages = accepted.map(({ event, id }) => ({
        key: event.track_id,
        value: JSON.stringify(event),
        headers: { [EVENT_ID_HEADER]: id },
      }));
      if (messages.length)
        await withRetry(
          'publish track events',
          () => producer.send(cfg.topicTracks, messages),
          retry,
          (err) => classifyKafkaError(err, 'publish track events'),
        );
      return results;
    },
    async sendTo(topic, messages) {
      if (!messages.length) return;
      await withRetry(
        `publish to ${topic}`,
        () => producer.send(topic, messages),
        retry,
        (err) => classifyKafkaError(err, `publish to ${topic}`),
      );
    },
    close: () => producer.close(),
  });
}
