import { type ClickHouseClient, createClient } from '@clickhouse/client';
import type { Config } from './config.ts';

/**
 * A ClickHouse client for hitstream's database (or, with `database: null`, for the server as a
 * whole, e.g. to create the database). Uses HTTP, which both 18.16 and current servers speak.
 */
export function createClickhouse(
  cfg: Config,
  opts: { database?: string | null; timeoutMs?: number } = {},
): ClickHouseClient {
  const database = opts.database === undefined ? cfg.clickhouseDatabase : opts.database;
  return createClient({
    url: cfg.clickhouseUrl,
    username: cfg.clickhouseUser,
    password: cfg.clickhousePassword,
    ...(database ? { database } : {}),
    request_timeout: opts.timeoutMs ?? 30_000,
    // 18.16 rejects settings it does not know; send none by default. A long statement gets
    // progress headers (18.16 has them), so an idle connection is not cut meanwhile.
    clickhouse_settings:
      (opts.timeoutMs ?? 0) > 60_000
        ? { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' }
        : {},
    compression: { request: false, response: false },
  });
}
