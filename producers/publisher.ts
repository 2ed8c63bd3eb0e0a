/**
 * Publishing track events: validate each record against the TrackFeatures schema, send the valid
 * ones keyed by track_id in one batched request, and answer per record. Used by the CLI, the
 * replay and POST /tracks.
 */
import { randomUUID } from 'node:crypto';
import { Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { createKafka } from '../lib/kafka.ts';
import { EVENT_ID_HEADER, type FieldError, TrackFeatures, validate } from '../schemas/index.ts';

export type PublishResult =
  { index: number; ok: true; track_id: string } | { index: number; ok: false; errors: FieldError[] };

export interface Publisher {
  /** Validates and sends; resolves when the broker acknowledged every accepted record. */
  publish(records: readonly unknown[]): Promise<PublishResult[]>;
  close(): Promise<void>;
}

export function validateRecords(records: readonly unknown[]) {
  const results: PublishResult[] = [];
  const accepted: TrackFeatures[] = [];
  records.forEach((r, index) => {
    const v = validate(TrackFeatures, r);
    if (v.ok) {
      accepted.push(v.value);
      results.push({ index, ok: true, track_id: v.value.track_id });
    } else results.push({ index, ok: false, errors: v.errors });
  });
  return { results, accepted };
}

export async function createPublisher(cfg: Config, clientId = 'hitstream-publisher'): Promise<Publisher> {
  const producer: Producer = createKafka(cfg, clientId).producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return {
    async publish(records) {
      const { results, accepted } = validateRecords(records);
      if (accepted.length)
        await producer.send({
          topic: cfg.topicTracks,
          acks: -1,
          // The id travels in a header so that a retried send's second copy is the same event.
          messages: accepted.map((e) => ({
            key: e.track_id,
            value: JSON.stringify(e),
            headers: { [EVENT_ID_HEADER]: randomUUID() },
          })),
        });
      return results;
    },
    close: () => producer.disconnect(),
  };
}
