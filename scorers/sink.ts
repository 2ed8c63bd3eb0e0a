/**
 * Writes to ClickHouse that do not give up on an outage: while ClickHouse is down the worker keeps
 * retrying with capped exponential backoff (and keeps its Kafka session alive through `onWait`),
 * logging once per interval rather than once per attempt. Offsets are committed only after this
 * returns. Errors that no retry can fix (no database, wrong password, rows ClickHouse refuses) are
 * thrown at once, classified (`lib/clickhouse-errors.ts`), for the caller to act on.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import type { HitstreamError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { ident, sql } from '../lib/sql.ts';

export interface RetryOptions {
  log: Logger;
  /** Called between attempts (e.g. the Kafka heartbeat). */
  onWait?: () => Promise<void>;
  /** Give up (throw) when this is aborted: the shutdown deadline has come. */
  signal?: AbortSignal;
  maxDelayMs?: number;
  logEveryMs?: number;
}

/** Tries `fn` until it succeeds, `classify` says its error is not retriable, or `signal` aborts. */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  opts: RetryOptions,
  classify: (err: unknown) => HitstreamError,
): Promise<T> {
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
    } catch (raw) {
      attempts++;
      const err = classify(raw);
      if (!err.retriable || opts.signal?.aborted) throw err;
      if (Date.now() - lastLog > (opts.logEveryMs ?? 10_000)) {
        lastLog = Date.now();
        opts.log.warn(
          { code: err.code, cause: err.message, what, attempts },
          `${what} failed; retrying (offsets are not committed until it succeeds)`,
        );
      }
      const until = Date.now() + delay;
      while (Date.now() < until && !opts.signal?.aborted) {
        await opts.onWait?.().catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
      }
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 10_000);
    }
  }
}

/** Where the rows go, for error messages. */
export interface StorageTarget {
  client: ClickHouseClient;
  url: string;
  database: string;
}

/**
 * Inserts JSONEachRow text (`encodeRows`), retrying outages as above; a fresh stream per attempt.
 * Throws `storage_rejected` when ClickHouse refuses the rows themselves.
 */
export async function insertRows(
  target: StorageTarget,
  table: string,
  rows: { rows: number; text: string },
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
        values: Readable.from([rows.text], { objectMode: false }),
      });
      stream.resume();
      await finished(stream);
    },
    opts,
    (err) => classifyClickhouseError(err, { what, url: target.url, database: target.database }),
  );
}
