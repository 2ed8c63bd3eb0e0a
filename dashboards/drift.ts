/** The Model drift dashboard: PSI per feature over time and as a heat map, score distributions, disagreement, live error. */
import {
  DashboardBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarChartPanel } from '@grafana/grafana-foundation-sdk/barchart';
import { PanelBuilder as StatusHistoryPanel } from '@grafana/grafana-foundation-sdk/statushistory';
import { PanelBuilder as TimeSeriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { psiPerMinuteSql, scoreDistributionSql } from '../models/drift-sql.ts';
import type { ModelManifest } from '../models/manifest.ts';
import { FEATURE_NAMES, MODEL_NAMES, type ModelName } from '../schemas/index.ts';
import { CLICKHOUSE_DATASOURCE, table, timeseries, unionByTime } from './common.ts';

export const PSI_WARN = 0.1;
export const PSI_ALERT = 0.2;

export function driftSql(
  manifests: Record<ModelName, ModelManifest>,
  timeFilter = (col: string) => `$__timeFilter(${col})`,
) {
  const ref = manifests.rf.drift.features;
  return {
    featurePsi: unionByTime(
      FEATURE_NAMES.map((f) =>
        psiPerMinuteSql({
          table: 'track_events',
          column: f,
          name: f,
          timeColumn: 'event_time',
          timeFilter: timeFilter('event_time'),
          ref: ref[f]!,
        }),
      ),
    ),
    scorePsi: unionByTime(
      MODEL_NAMES.map((m) =>
        psiPerMinuteSql({
          table: 'predictions',
          column: 'score',
          name: m,
          timeColumn: 'scored_at',
          timeFilter: timeFilter('scored_at'),
          where: `model = '${m}'`,
          ref: manifests[m].drift.score,
        }),
      ),
    ),
    scoreDistribution: Object.fromEntries(
      MODEL_NAMES.map((m) => [m, scoreDistributionSql(m, manifests[m].drift.score, timeFilter('scored_at'))]),
    ) as Record<ModelName, string>,
    disagreement: `SELECT toStartOfMinute(first_scored) AS time, avg(spread) AS mean_spread, max(spread) AS max_spread
FROM (SELECT event_id, any(scored_at) AS first_scored, max(score) - min(score) AS spread FROM predictions FINAL WHERE ${timeFilter('scored_at')} GROUP BY event_id)
GROUP BY time
ORDER BY time`,
    liveError: `SELECT toStartOfMinute(scored_at) AS time, model, sqrt(avg((score - popularity) * (score - popularity))) AS rmse, avg(abs(score - popularity)) AS mae
FROM predictions FINAL
WHERE ${timeFilter('scored_at')} AND isNotNull(popularity)
GROUP BY time, model
ORDER BY time`,
  };
}

const psiThresholds = new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
  { value: null, color: 'green' },
  { value: PSI_WARN, color: 'yellow' },
  { value: PSI_ALERT, color: 'red' },
]);

export function driftDashboard(manifests: Record<ModelName, ModelManifest>) {
  const q = driftSql(manifests);
  const versions = MODEL_NAMES.map((m) => manifests[m].version).join(', ');
  const d = new DashboardBuilder('hitstream · Model drift')
    .uid('hitstream-drift')
    .tags(['hitstream', 'generated'])
    .description(`Live data against the training reference of ${versions}. PSI ≥ ${PSI_ALERT} is drift.`)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .withRow(new RowBuilder('Features'))
    .withPanel(
      new TimeSeriesPanel()
        .title('PSI per feature, per minute')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.featurePsi))
        .thresholds(psiThresholds)
        .span(12)
        .height(9),
    )
    .withPanel(
      new StatusHistoryPanel()
        .title('PSI heat map (green < 0.1 ≤ yellow < 0.2 ≤ red)')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.featurePsi))
        .thresholds(psiThresholds)
        .span(12)
        .height(9),
    )
    .withRow(new RowBuilder('Model scores'))
    .withPanel(
      new TimeSeriesPanel()
        .title('PSI of each model’s scores, per minute')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.scorePsi))
        .thresholds(psiThresholds)
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeriesPanel()
        .title('Disagreement between the four models (max − min score)')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.disagreement))
        .span(12)
        .height(8),
    );
  for (const m of MODEL_NAMES)
    d.withPanel(
      new BarChartPanel()
        .title(`${m}: score distribution, live vs training`)
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(table(q.scoreDistribution[m]))
        .span(6)
        .height(7),
    );
  d.withRow(new RowBuilder('Error against ground truth (replays carry the dataset’s popularity)'));
  d.withPanel(
    new TimeSeriesPanel()
      .title('RMSE and MAE per model, per minute')
      .datasource(CLICKHOUSE_DATASOURCE)
      .withTarget(timeseries(q.liveError))
      .span(24)
      .height(8),
  );
  return d;
}
