/** DeadLetter: an event that could not be scored, kept whole with the reason. Nothing is dropped. */
import { type Static, Type } from '@sinclair/typebox';

export const DEAD_LETTER_CODES = [
  'empty_message',
  'oversized_message',
  'malformed_json',
  'missing_field',
  'wrong_type',
  'out_of_range',
  'unknown_field',
  'invalid_value',
  // Bytes that are not UTF-8, or a string with a lone UTF-16 surrogate (no store can keep it).
  'invalid_text',
  // JSON nested deeper than any event is: rejected before it is parsed or walked.
  'too_deep',
  // Valid by the schema, but refused by ClickHouse for its data (the insert was split to find it).
  'storage_rejected',
] as const;
export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];

export const DeadLetter = Type.Object(
  {
    payload: Type.String({
      description: 'The original message value (UTF-8, or base64 when not valid UTF-8)',
    }),
    payload_encoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')]),
    payload_bytes: Type.Integer({ minimum: 0 }),
    error_code: Type.Union(DEAD_LETTER_CODES.map((c) => Type.Literal(c))),
    message: Type.String(),
    field: Type.String({
      description: 'Path of the offending field, empty when the whole message is at fault',
    }),
    topic: Type.String(),
    partition: Type.Integer({ minimum: 0 }),
    offset: Type.String({ description: 'Kafka offset (a decimal string: offsets exceed 2^53)' }),
    key: Type.Optional(Type.String()),
    time: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, $id: 'DeadLetter' },
);
export type DeadLetter = Static<typeof DeadLetter>;

/** The whole message kept with the reason; binary payloads survive as base64. */
export function deadLetterFor(
  failure: { code: DeadLetterCode; message: string; field: string; ok?: false },
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
