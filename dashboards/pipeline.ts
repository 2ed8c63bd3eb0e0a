/** The Pipeline dashboard: throughput, latency, consumer lag, dead letters. */
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder as PromQuery } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { CLICKHOUSE_DATASOURCE, table, timeseries } from './common.ts';

export const PIPELINE_SQL = {
  predictionsPerMinute: `SELECT minute AS time, model, countMerge(predictions) AS predictions
FROM predictions_per_minute
WHERE $__timeFilter(minute)
GROUP BY time, model
ORDER BY time`,
  latencyPercentiles: `SELECT minute AS time,
  arrayElement(quantilesMerge(0.5, 0.9, 0.99)(latency_ms_q), 1) AS p50,
  arrayElement(quantilesMerge(0.5, 0.9, 0.99)(latency_ms_q), 2) AS p90,
  arrayElement(quantilesMerge(0.5, 0.9, 0.99)(latency_ms_q), 3) AS p99
FROM predictions_per_minute
WHERE $__timeFilter(minute)
GROUP BY time
ORDER BY time`,
  deadLettersPerMinute: `SELECT minute AS time, error_code, countMerge(dead_letters) AS dead_letters
FROM dead_letters_per_minute
WHERE $__timeFilter(minute)
GROUP BY time, error_code
ORDER BY time`,
  eventsScored: `SELECT count() AS events FROM track_events FINAL WHERE $__timeFilter(event_time)`,
  latestDeadLetters: `SELECT time, error_code, field, message, kafka_partition, kafka_offset
FROM dead_letters FINAL
WHERE $__timeFilter(time)
ORDER BY time DESC
LIMIT 50`,
} as const;

const PROMETHEUS = { type: 'prometheus', uid: 'hitstream-prometheus' };

export function pipelineDashboard() {
  return new DashboardBuilder('hitstream · Pipeline')
    .uid('hitstream-pipeline')
    .tags(['hitstream', 'generated'])
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .withRow(new RowBuilder('Throughput'))
    .withPanel(
      new StatPanel()
        .title('Events scored')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(table(PIPELINE_SQL.eventsScored))
        .span(6)
        .height(6),
    )
    .withPanel(
      new TimeSeriesPanel()
        .title('Predictions per minute, by model')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(PIPELINE_SQL.predictionsPerMinute))
        .span(18)
        .height(8),
    )
    .withRow(new RowBuilder('Latency and lag'))
    .withPanel(
      new TimeSeriesPanel()
        .title('Event → prediction latency (ms)')
        .unit('ms')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(PIPELINE_SQL.latencyPercentiles))
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeriesPanel()
        .title('Consumer lag (messages, from the workers’ /metrics)')
        .datasource(PROMETHEUS)
        .withTarget(
          new PromQuery()
            .expr('sum by (partition) (hitstream_consumer_lag)')
            .legendFormat('partition {{partition}}'),
        )
        .span(12)
        .height(8),
    )
    .withRow(new RowBuilder('Dead letters'))
    .withPanel(
      new TimeSeriesPanel()
        .title('Dead letters per minute, by reason')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(PIPELINE_SQL.deadLettersPerMinute))
        .span(12)
        .height(8),
    )
    .withPanel(
      new TablePanel()
        .title('Latest dead letters')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(table(PIPELINE_SQL.latestDeadLetters))
        .span(12)
        .height(8),
    );
}
