/**
 * A query of the Grafana ClickHouse datasource plugin (grafana-clickhouse-datasource): the SDK
 * ships builders for core datasources only, so this one follows its "custom query type" recipe.
 */
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';

export const CLICKHOUSE_DATASOURCE = {
  type: 'grafana-clickhouse-datasource',
  uid: 'hitstream-clickhouse',
} as const;

export interface ClickHouseQuery extends Dataquery {
  refId: string;
  datasource: typeof CLICKHOUSE_DATASOURCE;
  editorType: 'sql';
  /** The plugin's formats: 0 = time series, 1 = table. */
  format: 0 | 1;
  queryType: 'timeseries' | 'table';
  rawSql: string;
}

export class ClickHouseQueryBuilder implements Builder<Dataquery> {
  private readonly q: ClickHouseQuery;

  constructor(rawSql: string, kind: 'timeseries' | 'table' = 'timeseries') {
    this.q = {
      refId: 'A',
      datasource: CLICKHOUSE_DATASOURCE,
      editorType: 'sql',
      format: kind === 'timeseries' ? 0 : 1,
      queryType: kind,
      rawSql,
      _implementsDataqueryVariant() {},
    };
  }

  refId(refId: string): this {
    this.q.refId = refId;
    return this;
  }

  build(): ClickHouseQuery {
    return this.q;
  }
}
