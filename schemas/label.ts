/**
 * Label: a track's popularity as observed after its events were scored, on the labels topic and
 * the body of POST /labels. It names the track (every event of it), or one event by `event_id`,
 * and says when the popularity was observed (`label_time`); when it arrived is the store's.
 */
import { type Static, Type } from '@sinclair/typebox';
import type { DeadLetterCode } from './dead-letter.ts';
import { readMessageObject } from './json-text.ts';
import { EVENT_SOURCES } from './track-features.ts';
import { validate } from './validate.ts';

const fields = {
  track_id: Type.String({ minLength: 1, maxLength: 128, description: 'The track this label judges' }),
  event_id: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9._:-]{1,128}$',
      description: 'One event of the track, when the label judges that event only',
    }),
  ),
  popularity: Type.Integer({ minimum: 0, maximum: 100, description: 'The observed popularity, 0..100' }),
  label_time: Type.String({
    format: 'date-time',
    description: 'When the popularity was observed (ISO 8601)',
  }),
  source: Type.Optional(
    Type.Union(
      EVENT_SOURCES.map((s) => Type.Literal(s)),
      { description: 'Who published it' },
    ),
  ),
};

export const Label = Type.Object(fields, { additionalProperties: false, $id: 'Label' });
export type Label = Static<typeof Label>;

/** What POST /labels and `label` take: a Label whose `label_time` may be left out (it is then now). */
export const LabelInput = Type.Object(
  { ...fields, label_time: Type.Optional(fields.label_time) },
  { additionalProperties: false, $id: 'LabelInput' },
);

/** Larger values are dead-lettered unread: a label is a few dozen bytes. */
export const MAX_LABEL_BYTES = 4 * 1024;

export type DecodedLabel =
  { ok: true; label: Label } | { ok: false; code: DeadLetterCode; message: string; field: string };

/** A message of the labels topic as a Label, or the reason it cannot be one. Pure; never throws. */
export function decodeLabelMessage(value: Buffer | null): DecodedLabel {
  const read = readMessageObject(value, MAX_LABEL_BYTES, 'a label');
  if (!read.ok) return read;
  const v = validateLabel(read.value);
  return v.ok ? { ok: true, label: v.value } : { ok: false, ...v.first, message: v.message };
}

/** A Label, or its errors with the first one named (what a dead letter keeps). */
export function validateLabel(value: unknown) {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return {
      ok: false as const,
      first: { code: 'wrong_type' as DeadLetterCode, field: '' },
      message: 'a label must be a JSON object',
      errors: [{ field: '', code: 'wrong_type' as DeadLetterCode, message: 'a label must be a JSON object' }],
    };
  const v = validate(Label, value);
  if (v.ok) return v;
  const first = v.errors[0]!;
  return {
    ok: false as const,
    first: { code: first.code, field: first.field },
    message: v.errors.map((e) => e.message).join('; '),
    errors: v.errors,
  };
}
