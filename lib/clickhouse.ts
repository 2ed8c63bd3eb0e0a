import { readFileSync } from 'node:fs';
import { type ClickHouseClient, ClickHouseLogLevel, createClient, type Logger } from '@clickhouse/client';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';

/**
 * The client's own log, through pino like everything else. Its errors are the failed requests it
 * also throws, which the caller reports (with the URL and what to do), so they go to debug:
 * otherwise every unreachable-server error printed a 20-line dump before hitstream's one line.
 */
class PinoClickhouseLogger implements Logger {
  private readonly log = createLogger('clickhouse-client');
  trace() {}
  debug({ message, args }: Parameters<Logger['debug']>[0]) {
    this.log.debug(args ?? {}, message);
  }
  info({ message, args }: Parameters<Logger['info']>[0]) {
    this.log.info(args ?? {}, message);
  }
  warn({ message, args, err }: Parameters<Logger['warn']>[0]) {
    this.log.warn({ ...args, err: err?.message }, message);
  }
  error({ message, args, err }: Parameters<Logger['error']>[0]) {
    this.log.debug({ ...args, err: err.message }, message);
  }
}

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
    ...(cfg.clickhouseCaFile ? { tls: { ca_cert: readFileSync(cfg.clickhouseCaFile) } } : {}),
    request_timeout: opts.timeoutMs ?? 30_000,
    // 18.16 rejects settings it does not know; send none by default. A long statement gets
    // progress headers (18.16 has them), so an idle connection is not cut meanwhile. On a cluster,
    // an insert into a Distributed table returns once the shards hold the rows (by default it
    // queues them on the receiving server, and a worker would commit offsets of unstored events).
    clickhouse_settings: {
      ...((opts.timeoutMs ?? 0) > 60_000
        ? { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: '10000' }
        : {}),
      ...(cfg.clickhouseCluster ? { insert_distributed_sync: 1 } : {}),
    },
    compression: { request: false, response: false },
    log: { LoggerClass: PinoClickhouseLogger, level: ClickHouseLogLevel.WARN },
  });
}
