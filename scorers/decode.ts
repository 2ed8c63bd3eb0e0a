/**
 * Turning a Kafka message into a TrackFeatures event, or into the reason it cannot be one.
 * Pure: no I/O, so every bad-input case is unit-tested. Never throws, whatever the bytes: a
 * message that threw here would stop its partition (tested with random bytes in decode.test.ts).
 */
import type { DeadLetter, DeadLetterCode } from '../schemas/dead-letter.ts';
import { EVENT_ID_HEADER, TrackFeatures, validate } from '../schemas/index.ts';
import { decodeUtf8, parseJsonText } from '../schemas/json-text.ts';

/** Larger values are dead-lettered unread (the broker's default limit is ~1 MB). */
export const MAX_EVENT_BYTES = 64 * 1024;

export type Decoded =
  { ok: true; event: TrackFeatures } | { ok: false; code: DeadLetterCode; message: string; field: string };

export function decodeTrackMessage(value: Buffer | null): Decoded {
  if (!value || value.length === 0)
    return { ok: false, code: 'empty_message', message: 'message value is empty', field: '' };
  if (value.length > MAX_EVENT_BYTES)
    return {
      ok: false,
      code: 'oversized_message',
      message: `message is ${value.length} bytes; the limit is ${MAX_EVENT_BYTES}`,
      field: '',
    };
  const text = decodeUtf8(value);
  if (!text.ok) return { ok: false, code: 'invalid_text', message: text.message, field: '' };
  const json = parseJsonText(text.text);
  if (!json.ok) return { ...json, field: '' };
  const parsed = json.value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, code: 'wrong_type', message: 'a track event must be a JSON object', field: '' };
  const v = validate(TrackFeatures, parsed);
  if (v.ok) return { ok: true, event: v.value };
  const first = v.errors[0]!;
  return {
    ok: false,
    code: first.code,
    message: v.errors.map((e) => e.message).join('; '),
    field: first.field,
  };
}

/** The whole message kept with the reason; binary payloads survive as base64. */
export function deadLetterFor(
  failure: Extract<Decoded, { ok: false }>,
  msg: { value: Buffer | null; key: Buffer | null; offset: string },
  topic: string,
  partition: number,
  now: Date,
): DeadLetter {
  const raw = msg.value ?? Buffer.alloc(0);
  const text = raw.toString('utf8');
  const isUtf8 = Buffer.from(text, 'utf8').equals(raw);
  return {
    payload: isUtf8 ? text : raw.toString('base64'),
    payload_encoding: isUtf8 ? 'utf8' : 'base64',
    payload_bytes: raw.length,
    error_code: failure.code,
    message: failure.message,
    field: failure.field,
    topic,
    partition,
    offset: msg.offset,
    ...(msg.key ? { key: msg.key.toString('utf8') } : {}),
    time: now.toISOString(),
  };
}

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
