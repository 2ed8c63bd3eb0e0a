/**
 * Reading JSON text from outside (Kafka messages, HTTP bodies, NDJSON lines) without letting one
 * crafted input take the process down: bytes that are not UTF-8, nesting deeper than any record
 * of ours, and strings no store can keep are named errors, never exceptions.
 *
 * Why a depth limit before parsing: `JSON.parse` copes with 5,000 levels, but whatever walks the
 * result afterwards (validation messages, `JSON.stringify`) recurses and overflowed the stack,
 * which crashed a worker's consumer in a loop on the same message.
 */
import type { DeadLetterCode } from './dead-letter.ts';

/** Our records are flat objects; a little room for arrays of them and for nested test data. */
export const MAX_JSON_DEPTH = 16;

export type ParsedJson = { ok: true; value: unknown } | { ok: false; code: DeadLetterCode; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Text of a message value, or the reason it is not UTF-8 (no silent U+FFFD replacement). */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; message: string } {
  try {
    return { ok: true, text: utf8.decode(bytes) };
  } catch {
    return { ok: false, message: 'the message is not valid UTF-8 text' };
  }
}

/** How often `c` occurs in `text`, counting no further than `atMost + 1` (native search). */
function occurrences(text: string, c: string, atMost: number): number {
  let n = 0;
  for (let i = text.indexOf(c); i !== -1 && n <= atMost; i = text.indexOf(c, i + 1)) n++;
  return n;
}

/** How deeply `text` nests objects and arrays, stopping as soon as it passes `limit`. */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  // A record of ours opens one brace and no bracket: with at most `limit` openers in the whole
  // text, no nesting can pass it, and the character-by-character walk below is skipped.
  const braces = occurrences(text, '{', limit);
  if (braces + occurrences(text, '[', limit - braces) <= limit) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

// With the `u` flag a well-formed surrogate pair is one code point, so this finds lone halves only.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** True when `s` holds a lone UTF-16 surrogate (JSON accepts `"\ud800"`; UTF-8 cannot encode it). */
export const hasLoneSurrogate = (s: string): boolean => LONE_SURROGATE.test(s);

/**
 * The first string (key or value) in a parsed value that holds a lone surrogate, as a dotted
 * path ('' for the value itself); undefined when there is none. `value` must be depth-checked
 * already. Every event passes here, so the walk allocates nothing until it finds one: no
 * key/value pairs, no path per key.
 */
export function findInvalidText(value: unknown): string | undefined {
  if (typeof value === 'string') return hasLoneSurrogate(value) ? '' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  for (const k in record) {
    if (!Object.hasOwn(record, k)) continue;
    if (hasLoneSurrogate(k)) return k;
    const inner = findInvalidText(record[k]);
    if (inner !== undefined) return inner === '' ? k : `${k}.${inner}`;
  }
  return undefined;
}

/** JSON text → value, or `too_deep` / `malformed_json` with a message; never throws. */
export function parseJsonText(text: string, maxDepth = MAX_JSON_DEPTH): ParsedJson {
  if (jsonDepthExceeds(text, maxDepth))
    return {
      ok: false,
      code: 'too_deep',
      message: `JSON nests deeper than ${maxDepth} levels; a track event is a flat object`,
    };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, code: 'malformed_json', message: `not JSON: ${(err as Error).message}` };
  }
}

export type MessageObject =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; code: DeadLetterCode; message: string; field: '' };

/**
 * A Kafka message's value as a JSON object, or why it is not one: empty, over `maxBytes`, not
 * UTF-8, not JSON (or too deep), or not an object (`what` names the record, e.g. "a label").
 */
export function readMessageObject(value: Buffer | null, maxBytes: number, what: string): MessageObject {
  if (!value || value.length === 0)
    return { ok: false, code: 'empty_message', message: 'message value is empty', field: '' };
  if (value.length > maxBytes)
    return {
      ok: false,
      code: 'oversized_message',
      message: `message is ${value.length} bytes; the limit for ${what} is ${maxBytes}`,
      field: '',
    };
  const text = decodeUtf8(value);
  if (!text.ok) return { ok: false, code: 'invalid_text', message: text.message, field: '' };
  const json = parseJsonText(text.text);
  if (!json.ok) return { ...json, field: '' };
  const parsed = json.value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, code: 'wrong_type', message: `${what} must be a JSON object`, field: '' };
  return { ok: true, value: parsed as Record<string, unknown> };
}
