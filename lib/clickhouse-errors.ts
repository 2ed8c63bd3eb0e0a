/**
 * Every ClickHouse failure in one of three classes, decided by the server's numeric error code
 * (or the socket's errno), never by message wording:
 *   - retriable (`storage_unavailable`): the server is down, slow or overloaded; try again later.
 *   - fatal (`schema_missing`, `storage_auth`, `storage_error`): trying again cannot help; a
 *     person has to run `migrate` or fix a setting, so the process says so and stops.
 *   - the data (`storage_rejected`): this insert's rows, or some of them, cannot be stored; the
 *     writer splits the insert to find them and dead-letters them.
 * Unknown server codes count as retriable: waiting loses nothing (no offset is committed).
 */
import { ClickHouseError } from '@clickhouse/client';
import { HitstreamError } from './errors.ts';

/** Codes for the tables' data: parse errors of a row, values a column type cannot hold. */
const DATA_CODES = new Set([6, 25, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349]);
/** The database, a table or a column is not what hitstream's migrations create. */
const SCHEMA_CODES = new Set([8, 10, 16, 47, 60, 81]);
/** Who we are is refused: user, password, grants, a read-only user. */
const AUTH_CODES = new Set([164, 192, 193, 194, 195, 497, 516]);
/** The server's certificate is not trusted (Node's TLS error codes). */
const TLS_UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
/** Requests that are wrong by construction (a bug, not an outage): syntax, unknown function. */
const BUG_CODES = new Set([1, 36, 43, 46, 48, 62, 115]);

/** The server's numeric code: from the client's parse on current servers, from the text on 18.16. */
export function clickhouseCode(err: unknown): number | undefined {
  if (err instanceof ClickHouseError && /^\d+$/.test(err.code)) return Number(err.code);
  // 18.16 answers `Code: 81, e.displayText() = DB::Exception: …`, which the client does not parse.
  const m = err instanceof Error ? /^Code: (\d+)[,.]/.exec(err.message) : null;
  return m ? Number(m[1]) : undefined;
}

/** The server's own sentence, without the `Code: N, e.displayText() = DB::Exception:` frame. */
function serverMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/^Code: \d+[,.]\s*(e\.displayText\(\) = )?(DB::Exception: )?/, '')
    .replace(/,? e\.what\(\) = DB::Exception\s*$/s, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/** True for errors that never reached a ClickHouse answer (refused, reset, timed out). */
const isTransport = (err: unknown) =>
  err instanceof Error && clickhouseCode(err) === undefined && !(err instanceof HitstreamError);

export type StorageErrorCode =
  'storage_unavailable' | 'schema_missing' | 'storage_auth' | 'storage_error' | 'storage_rejected';

/**
 * `err` as a HitstreamError of its class, with what to do. `what` names the operation (`insert
 * into predictions`), `where` the server and database, for the message.
 */
export function classifyClickhouseError(
  err: unknown,
  ctx: { what: string; url: string; database: string },
): HitstreamError {
  if (err instanceof HitstreamError) return err;
  const code = clickhouseCode(err);
  const said = serverMessage(err);
  const make = (c: StorageErrorCode, message: string, retriable: boolean, field?: string) =>
    new HitstreamError(c, message, {
      retriable,
      cause: err,
      explainsCause: true,
      ...(field ? { field } : {}),
    });
  if (code !== undefined && SCHEMA_CODES.has(code))
    return make(
      'schema_missing',
      code === 81
        ? `database ${ctx.database} does not exist on ${ctx.url}: run \`npx hitstream migrate\``
        : `${ctx.what}: ${said}: the schema is not hitstream's; run \`npx hitstream migrate\``,
      false,
      'CLICKHOUSE_DATABASE',
    );
  if (code !== undefined && AUTH_CODES.has(code))
    return make(
      'storage_auth',
      `ClickHouse at ${ctx.url} refuses us: ${said}: check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD`,
      false,
      'CLICKHOUSE_USER',
    );
  const errno = (err as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && TLS_UNTRUSTED.has(errno))
    return make(
      'storage_auth',
      `ClickHouse at ${ctx.url}: its certificate is not trusted (${said}): set CLICKHOUSE_CA_FILE to the PEM of the CA that signed it`,
      false,
      'CLICKHOUSE_CA_FILE',
    );
  if (errno === 'EPROTO' && ctx.url.startsWith('https://'))
    return make(
      'storage_auth',
      `ClickHouse at ${ctx.url} does not speak TLS on that port (${said}): use its https_port, or http:// in CLICKHOUSE_URL`,
      false,
      'CLICKHOUSE_URL',
    );
  if (code !== undefined && DATA_CODES.has(code))
    return make('storage_rejected', `${ctx.what}: ClickHouse refused the data: ${said}`, false);
  if (code !== undefined && BUG_CODES.has(code))
    return make('storage_error', `${ctx.what}: ClickHouse refused the statement: ${said}`, false);
  const why = isTransport(err) ? said : `${said} (code ${code ?? '?'})`;
  return make('storage_unavailable', `${ctx.what}: ClickHouse at ${ctx.url} is unavailable: ${why}`, true);
}
