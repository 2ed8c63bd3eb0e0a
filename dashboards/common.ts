/** Shared pieces of hitstream's dashboards: where the references come from, panel helpers. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import { ARTIFACTS_DIR } from '../models/model-set.ts';
import type { StoredManifest } from '../models/manifest.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/index.ts';
import { CLICKHOUSE_DATASOURCE, ClickHouseQueryBuilder } from './clickhouse-query.ts';

export { CLICKHOUSE_DATASOURCE };

/** The checkout's manifests (models/artifacts/). */
export function readManifests(dir = ARTIFACTS_DIR): Record<ModelName, StoredManifest> {
  return Object.fromEntries(
    MODEL_NAMES.map((m) => [
      m,
      JSON.parse(readFileSync(join(dir, m, 'manifest.json'), 'utf8')) as StoredManifest,
    ]),
  ) as Record<ModelName, StoredManifest>;
}

export const timeseries = (sql: string, refId = 'A'): Builder<Dataquery> =>
  new ClickHouseQueryBuilder(sql, 'timeseries').refId(refId);
export const table = (sql: string, refId = 'A'): Builder<Dataquery> =>
  new ClickHouseQueryBuilder(sql, 'table').refId(refId);

/** Joins per-item queries (each without ORDER BY) into one result ordered by time. */
export const unionByTime = (parts: string[]) =>
  `SELECT * FROM (\n${parts.join('\nUNION ALL\n')}\n) ORDER BY time`;
