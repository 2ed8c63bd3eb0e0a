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
import { decodeUtf8, parseJsonText } from './json-text.ts';

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
