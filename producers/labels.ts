/**
 * Publishing labels to the labels topic (keyed by track_id): each record validated on its own
 * and answered, the valid ones sent in one acknowledged request. Used by `npx hitstream label`
 * and POST /labels; `label_time` defaults to now, `source` to the caller's.
 */
import type { Config } from '../lib/config.ts';
import { type Label, validateLabel } from '../schemas/label.ts';
import type { FieldError } from '../schemas/validate.ts';
import type { Publisher } from './publisher.ts';

export type LabelResult =
  { index: number; ok: true; track_id: string } | { index: number; ok: false; errors: FieldError[] };

/** Each record as a Label (defaults filled in) or its named errors. */
export function validateLabels(
  records: readonly unknown[],
  defaults: { source: Label['source']; now: Date },
) {
  const accepted: Label[] = [];
  const results: LabelResult[] = records.map((r, index) => {
    const withDefaults =
      typeof r === 'object' && r !== null && !Array.isArray(r)
        ? { label_time: defaults.now.toISOString(), source: defaults.source, ...r }
        : r;
    const v = validateLabel(withDefaults);
    if (!v.ok) return { index, ok: false, errors: v.errors };
    accepted.push(v.value);
    return { index, ok: true, track_id: v.value.track_id };
  });
  return { results, accepted };
}

export async function publishLabels(
  publisher: Publisher,
  cfg: Config,
  records: readonly unknown[],
  source: Label['source'],
): Promise<LabelResult[]> {
  const { results, accepted } = validateLabels(records, { source, now: new Date() });
  await publisher.sendTo(
    cfg.topicLabels,
    accepted.map((l) => ({ key: l.track_id, value: JSON.stringify(l) })),
  );
  return results;
}

/**
 * A CSV of labels: a header naming `track_id` and `popularity` (and optionally `label_time`,
 * `event_id`), then one label per line. Values stay text where the schema wants text; numbers
 * are numbers, so a bad value is answered by the schema with its field.
 */
export function parseLabelCsv(text: string): unknown[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (!lines.length) return [];
  const header = lines[0]!.split(',').map((h) => h.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(',').map((c) => c.trim());
    return Object.fromEntries(
      header.flatMap((h, i) => {
        const v = cells[i] ?? '';
        if (v === '' && h !== 'track_id' && h !== 'popularity') return [];
        return [[h, h === 'popularity' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v]];
      }),
    );
  });
}
