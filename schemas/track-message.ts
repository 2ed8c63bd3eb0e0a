/**
 * Turning a message of the tracks topic into a TrackFeatures event, or into the reason it cannot
 * be one: what the workers do to every message, and `dead-letters redrive` to a stored payload
 * before it republishes it. Pure: no I/O, so every bad-input case is unit-tested. Never throws,
 * whatever the bytes: a message that threw here would stop its partition (tested with random
 * bytes in decode.test.ts).
 */
import type { DeadLetterCode } from './dead-letter.ts';
import { TrackFeatures } from './track-features.ts';
import { validate } from './validate.ts';
import { readMessageObject } from './json-text.ts';

/** Larger values are dead-lettered unread (the broker's default limit is ~1 MB). */
export const MAX_EVENT_BYTES = 64 * 1024;

export type Decoded =
  { ok: true; event: TrackFeatures } | { ok: false; code: DeadLetterCode; message: string; field: string };

export function decodeTrackMessage(value: Buffer | null): Decoded {
  const read = readMessageObject(value, MAX_EVENT_BYTES, 'a track event');
  if (!read.ok) return read;
  const v = validate(TrackFeatures, read.value);
  if (v.ok) return { ok: true, event: v.value };
  const first = v.errors[0]!;
  return {
    ok: false,
    code: first.code,
    message: v.errors.map((e) => e.message).join('; '),
    field: first.field,
  };
}
