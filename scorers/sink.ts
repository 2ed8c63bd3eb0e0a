/**
 * Writes to ClickHouse that do not give up: while ClickHouse is down the worker keeps retrying
 * with capped exponential backoff (and keeps its Kafka session alive through `onWait`), logging
 * once per interval rather than once per attempt. Offsets are committed only after this returns.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from '../lib/logger.ts';
import { ident, sql } from '../lib/sql.ts';
import type { EncodedRows } from './rows.ts';

export interface RetryOptions {
  log: Logger;
  /** Called between attempts (e.g. the Kafka heartbeat). */
  onWait?: () => Promise<void>;
  /** Give up (throw) when this is aborted, e.g. on a second SIGTERM. */
  signal?: AbortSignal;
  maxDelayMs?: number;
  logEveryMs?: number;
}

export async function withRetry<T>(what: string, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let delay = 200;
  let attempts = 0;
  let lastLog = 0;
  const firstFailure = Date.now();
  for (;;) {
    try {
      const result = await fn();
      if (attempts > 0)
        opts.log.info(
          { what, attempts, downSeconds: (Date.now() - firstFailure) / 1000 },
          `${what}: recovered`,
        );
      return result;
    } catch (err) {
      attempts++;
      if (opts.signal?.aborted) throw err;
      if (Date.now() - lastLog > (opts.logEveryMs ?? 10_000)) {
        lastLog = Date.now();
        opts.log.warn(
          { err, what, attempts },
          `${what} failed; retrying (offsets are not committed until it succeeds)`,
        );
      }
      const until = Date.now() + delay;
      while (Date.now() < until) {
        await opts.onWait?.().catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
      }
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 10_000);
    }
  }
}

/** Inserts JSONEachRow text (`encodeRows`), retrying as above; a fresh stream per attempt. */
export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: EncodedRows,
  opts: RetryOptions,
): Promise<void> {
  if (!rows.rows) return;
  // `exec` sends the text as it is (`insert` would encode row objects itself, all at once).
  const query = sql`INSERT INTO ${ident(table)} FORMAT JSONEachRow`;
  await withRetry(
    `insert into ${table}`,
    async () => {
      const { stream } = await client.exec({
        query,
        values: Readable.from([rows.text], { objectMode: false }),
      });
      stream.resume();
      await finished(stream);
    },
    opts,
  );
}
