/**
 * The worker's decode stage: a batch's messages become events to score, or dead letters with
 * the reason, and each event gets the id it is stored under. Decoding one message is
 * schemas/track-message.ts' (the redrive uses it too).
 */
import type { DeadLetter } from '../schemas/dead-letter.ts';
import { EVENT_ID_HEADER } from '../schemas/index.ts';
import { decodeTrackMessage } from '../schemas/track-message.ts';
import { deadLetterFor } from '../schemas/dead-letter.ts';
import type { Scored } from '../warehouse/rows.ts';

export { decodeTrackMessage, type Decoded, MAX_EVENT_BYTES } from '../schemas/track-message.ts';
export { deadLetterFor } from '../schemas/dead-letter.ts';

const EVENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id an event's rows are stored under, the same on every re-delivery. Preferably the id the
 * publisher put in the message's header: a producer that retries a send after a lost reply (a
 * broker restart does that) writes the same message twice at two offsets, and only the header id
 * makes the copies one event. Messages from other producers fall back to their Kafka position.
 */
export function eventIdOf(
  topic: string,
  partition: number,
  message: { offset: string; headers?: Record<string, unknown> },
): string {
  const header = message.headers?.[EVENT_ID_HEADER];
  const id = Buffer.isBuffer(header) ? header.toString('utf8') : typeof header === 'string' ? header : '';
  return EVENT_ID.test(id) ? id : `${topic}-${partition}-${message.offset}`;
}

/**
 * The dead letter of a row ClickHouse refused (`storage_rejected`): the row as it was sent, its
 * table and ClickHouse's reason, at its message's Kafka position. The event's other rows, in
 * other tables, may have been stored.
 */
export function rejectedRowDeadLetter(
  r: {
    table: string;
    line: string;
    origin: { topic: string; partition: number; offset: string; key?: string };
    reason: string;
  },
  now: Date,
): DeadLetter {
  return {
    payload: r.line,
    payload_encoding: 'utf8',
    payload_bytes: Buffer.byteLength(r.line),
    error_code: 'storage_rejected',
    message: `${r.table}: ${r.reason}`,
    field: '',
    topic: r.origin.topic,
    partition: r.origin.partition,
    offset: r.origin.offset,
    ...(r.origin.key !== undefined ? { key: r.origin.key } : {}),
    time: now.toISOString(),
  };
}

/** A fetched partition batch as the decode stage reads it (one partition's messages, from lib/kafka-consumer.ts). */
export interface FetchedBatch {
  topic: string;
  partition: number;
  messages: readonly {
    value: Buffer | null;
    key: Buffer | null;
    offset: string;
    headers?: Record<string, unknown>;
  }[];
}

/**
 * The decode stage: every message of a batch becomes a scorable event (with the id its rows are
 * stored under and its Kafka position) or a dead letter with the reason. Never throws.
 */
export function decodeBatch(batch: FetchedBatch, now: Date): { valid: Scored[]; dead: DeadLetter[] } {
  const valid: Scored[] = [];
  const dead: DeadLetter[] = [];
  for (const m of batch.messages) {
    const d = decodeTrackMessage(m.value);
    if (d.ok)
      valid.push({
        eventId: eventIdOf(batch.topic, batch.partition, m),
        event: d.event,
        origin: {
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          ...(m.key ? { key: m.key.toString('utf8') } : {}),
        },
      });
    else dead.push(deadLetterFor(d, m, batch.topic, batch.partition, now));
  }
  return { valid, dead };
}
