/** Reading track events given as text (the CLI's argument or stdin). Pure. */
import { parseJsonText } from '../schemas/json-text.ts';
import type { FieldError } from '../schemas/validate.ts';

/** A record read from the input, or the line that could not be read as JSON. */
export type InputRecord = { ok: true; value: unknown } | { ok: false; error: FieldError };

/** A parsed JSON value as records: an array gives one per element. */
const recordsOf = (v: unknown): InputRecord[] =>
  (Array.isArray(v) ? (v as unknown[]) : [v]).map((value) => ({ ok: true, value }));

/**
 * The whole text as one JSON value (an object or array, pretty-printed or not), or else NDJSON,
 * one value per line. A line that is not JSON becomes a rejected record of its own, answered like
 * any invalid one, and the other lines are still published.
 */
export function parseRecords(text: string): InputRecord[] {
  if (!text.trim()) return [];
  const whole = parseJsonText(text);
  if (whole.ok) return recordsOf(whole.value);
  // Not one value: read it line by line.
  return text.split('\n').flatMap((line, i): InputRecord[] => {
    if (!line.trim()) return [];
    const json = parseJsonText(line);
    if (json.ok) return recordsOf(json.value);
    return [{ ok: false, error: { field: '', code: json.code, message: `line ${i + 1}: ${json.message}` } }];
  });
}
