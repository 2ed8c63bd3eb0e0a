/**
 * Validation against the shared schemas, with errors a person can act on: the field's path, what
 * is wrong, and a stable code (the same codes dead letters carry). Compiled once per schema.
 */
import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import type { DeadLetterCode } from './dead-letter.ts';
import { findInvalidText } from './json-text.ts';

// RFC 3339 date-time, as JSON Schema's `format: date-time` means it.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)));

export interface FieldError {
  /** Dotted path of the field (`energy`, `features.tempo`); empty for the whole value. */
  field: string;
  code: DeadLetterCode;
  message: string;
}
export type Validation<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

const WRONG_TYPE = new Set([
  ValueErrorType.Number,
  ValueErrorType.Integer,
  ValueErrorType.String,
  ValueErrorType.Boolean,
  ValueErrorType.Object,
  ValueErrorType.Array,
  ValueErrorType.Literal,
]);
const OUT_OF_RANGE = new Set([
  ValueErrorType.NumberMinimum,
  ValueErrorType.NumberMaximum,
  ValueErrorType.NumberExclusiveMinimum,
  ValueErrorType.NumberExclusiveMaximum,
  ValueErrorType.IntegerMinimum,
  ValueErrorType.IntegerMaximum,
]);

/**
 * What was sent, for the message: primitives as JSON, containers by kind only. Stringifying a
 * container could recurse as deep as the input nests (a 5,000-level value overflowed the stack).
 */
function shown(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return ' (got an array)';
  if (typeof value === 'object' && value !== null) return ' (got an object)';
  if (typeof value === 'function' || typeof value === 'symbol') return ` (got a ${typeof value})`;
  const text = typeof value === 'bigint' ? `${value}` : JSON.stringify(value);
  return ` (got ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
}

function toFieldError(e: ValueError): FieldError {
  const field = e.path.replace(/^\//, '').replaceAll('/', '.');
  const got = shown(e.value);
  if (e.type === ValueErrorType.ObjectRequiredProperty)
    return { field, code: 'missing_field', message: `${field} is required` };
  if (e.type === ValueErrorType.ObjectAdditionalProperties)
    return { field, code: 'unknown_field', message: `${field} is not a known field` };
  if (OUT_OF_RANGE.has(e.type))
    return { field, code: 'out_of_range', message: `${field}: ${e.message}${got}` };
  if (WRONG_TYPE.has(e.type)) return { field, code: 'wrong_type', message: `${field}: ${e.message}${got}` };
  const allowed = (e.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((b) => b.const);
  if (e.type === ValueErrorType.Union && allowed?.every((a) => a !== undefined))
    return {
      field,
      code: 'invalid_value',
      message: `${field} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}${got}`,
    };
  return { field, code: 'invalid_value', message: `${field || 'value'}: ${e.message}${got}` };
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

export function validate<T extends TSchema>(schema: T, value: unknown): Validation<Static<T>> {
  let check = compiled.get(schema);
  if (!check) compiled.set(schema, (check = TypeCompiler.Compile(schema)));
  if (check.Check(value)) {
    // Valid JSON, valid by the schema, and still unstorable: ClickHouse (like any UTF-8 store)
    // refuses a lone surrogate, and one such row used to hold up every write of a worker.
    const bad = findInvalidText(value);
    if (bad === undefined) return { ok: true, value };
    return {
      ok: false,
      errors: [
        {
          field: bad,
          code: 'invalid_text',
          message: `${bad || 'value'} holds a lone UTF-16 surrogate (e.g. "\\ud800"), which is not text`,
        },
      ],
    };
  }
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const e of check.Errors(value)) {
    const fe = toFieldError(e);
    // Unions report once per branch; one message per field is enough for a person.
    if (seen.has(fe.field)) continue;
    seen.add(fe.field);
    errors.push(fe);
  }
  return { ok: false, errors };
}

/** One line for logs and CLI output: `energy: Expected number to be less or equal to 1 (got 1.3)`. */
export const formatErrors = (errors: FieldError[]) => errors.map((e) => e.message).join('; ');
