/**
 * The API's reads from ClickHouse, with failures classified (`lib/clickhouse-errors.ts`) so that
 * an outage answers 503 `storage_unavailable` and a database nobody migrated 503
 * `schema_missing` (with the fix), instead of 500 `internal`.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import type { Config } from '../lib/config.ts';

export interface StorageReader {
  rows<T>(what: string, query: string): Promise<T[]>;
}

export function storageReader(client: ClickHouseClient, cfg: Config): StorageReader {
  return {
    async rows<T>(what: string, query: string) {
      try {
        const rs = await client.query({ query, format: 'JSONEachRow' });
        return await rs.json<T>();
      } catch (err) {
        throw classifyClickhouseError(err, {
          what,
          url: cfg.clickhouseUrl,
          database: cfg.clickhouseDatabase,
        });
      }
    },
  };
}
