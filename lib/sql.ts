/**
 * The one way values enter SQL text. ClickHouse 18.16 (the only server Debian ships) has no query
 * parameters, so every value is rendered as a literal here and nowhere else; call sites never
 * concatenate raw strings. Tested with hostile strings in test/unit/sql.test.ts.
 */
import { HitstreamError } from './errors.ts';

const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
};

/** A ClickHouse string literal, quotes included, safe for any JavaScript string. */
export function sqlString(value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0\b\f]/g, (c) => ESCAPES[c] ?? c)}'`;
}

/** A numeric literal; refuses NaN and infinities, which have no portable literal. */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new HitstreamError('SQL_BAD_NUMBER', `not a finite number: ${value}`);
  return String(value);
}

/** An identifier (database, table, column). Only plain names are allowed: no quoting games. */
export function sqlIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(name))
    throw new HitstreamError('SQL_BAD_IDENTIFIER', `not a plain identifier: ${JSON.stringify(name)}`, {
      field: name,
    });
  return name;
}

export type SqlValue = string | number | boolean | null | readonly SqlValue[];

/** Any supported value as a literal: strings, finite numbers, booleans (as 0/1), NULL, arrays. */
export function sqlLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return sqlString(value);
  if (typeof value === 'number') return sqlNumber(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  return `[${value.map(sqlLiteral).join(', ')}]`;
}

/**
 * Tagged template: `sql\`SELECT * FROM t WHERE id = ${id}\`` renders each interpolated value with
 * `sqlLiteral`. Identifiers go through `ident()` so they are not quoted as strings.
 */
export function sql(parts: TemplateStringsArray, ...values: (SqlValue | Identifier)[]): string {
  let out = parts[0] ?? '';
  values.forEach((v, i) => {
    out += (v instanceof Identifier ? v.name : sqlLiteral(v)) + (parts[i + 1] ?? '');
  });
  return out;
}

class Identifier {
  constructor(readonly name: string) {}
}
export const ident = (name: string) => new Identifier(sqlIdentifier(name));
