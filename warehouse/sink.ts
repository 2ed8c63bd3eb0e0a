/**
 * Writes to ClickHouse that do not give up on an outage: while ClickHouse is down the worker keeps
 * retrying (`lib/retry.ts`; the Kafka client heart-beats on its own meanwhile). Offsets are
 * committed only after this returns. Errors that no retry can fix (no database, wrong password, rows ClickHouse refuses) are
 * thrown at once, classified (`lib/clickhouse-errors.ts`), for the caller to act on.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import { type RetryOptions, withRetry } from '../lib/retry.ts';
import { ident, sql } from '../lib/sql.ts';

/** Where the rows go, for error messages. */
export interface StorageTarget {
  client: ClickHouseClient;
  url: string;
  database: string;
}

/**
 * Inserts JSONEachRow text (`encodeRows`), or that text as UTF-8 (byte-chunks.ts), retrying outages as above; a fresh stream per attempt.
 * Throws `storage_rejected` when ClickHouse refuses the rows themselves.
 */
export async function insertRows(
  target: StorageTarget,
  table: string,
  rows: { rows: number; text: string } | { rows: number; bytes: readonly Buffer[] },
  opts: RetryOptions,
): Promise<void> {
  if (!rows.rows) return;
  const what = `insert into ${table}`;
  // `exec` sends the text as it is (`insert` would encode row objects itself, all at once).
  const query = sql`INSERT INTO ${ident(table)} FORMAT JSONEachRow`;
  await withRetry(
    what,
    async () => {
      const { stream } = await target.client.exec({
        query,
        values: Readable.from('text' in rows ? [rows.text] : rows.bytes, { objectMode: false }),
      });
      stream.resume();
      await finished(stream);
    },
    opts,
    (err) => classifyClickhouseError(err, { what, url: target.url, database: target.database }),
  );
}
