/**
 * Writes to ClickHouse that do not give up: while ClickHouse is down the worker keeps retrying
 * with capped exponential backoff (and keeps its Kafka session alive through `onWait`), logging
 * once per interval rather than once per attempt. Offsets are committed only after this returns.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../lib/logger.ts';

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

export async function insertRows(
  client: ClickHouseClient,
  table: string,
  rows: readonly object[],
  opts: RetryOptions,
): Promise<void> {
  if (!rows.length) return;
  await withRetry(
    `insert into ${table}`,
    () => client.insert({ table, values: rows as object[], format: 'JSONEachRow' }),
    opts,
  );
}
