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
import {
  attributionDriftSql,
  disagreementSql,
  errorByLabelArrivalSql,
  errorPerMinuteSql,
  estimatedAndRealizedSql,
  featurePsiSql,
  labelCoverageSql,
  scoreDistributionSql,
  scorePsiSql,
} from '../warehouse/drift-sql.ts';
import type { ScoreName } from '../schemas/index.ts';
import { scoreNamesOf } from '../models/model-set.ts';
import { CLICKHOUSE_DATASOURCE, table, timeseries } from './common.ts';

/** The score whose attributions the drift dashboard follows: the ensemble when the set ships one. */
export const explainedScore = (): ScoreName => (scoreNamesOf().includes('ensemble') ? 'ensemble' : 'rf');

export const PSI_WARN = 0.1;
export const PSI_ALERT = 0.2;

/**
 * The drift panels' SQL. No reference is written into it: each row is compared with the
 * reference of the version that scored it (table drift_references, written by `models push`), so
 * a promotion or a shadow version shows up with no dashboards run.
 */
export function driftSql(timeFilter = (col: string) => `$__timeFilter(${col})`) {
  return {
    featurePsi: featurePsiSql(timeFilter('event_time')),
    scorePsi: scorePsiSql(timeFilter('scored_at')),
    scoreDistribution: Object.fromEntries(
      scoreNamesOf().map((m) => [m, scoreDistributionSql(m, timeFilter('scored_at'))]),
    ) as Partial<Record<ScoreName, string>>,
    disagreement: disagreementSql(timeFilter('scored_at')),
    error: errorPerMinuteSql(timeFilter('scored_at')),
    errorByArrival: errorByLabelArrivalSql(timeFilter),
    labelCoverage: labelCoverageSql(timeFilter('scored_at')),
    estimated: estimatedAndRealizedSql(timeFilter),
    attribution: attributionDriftSql(explainedScore(), timeFilter('event_time')),
  };
}

const psiThresholds = new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
  { value: null, color: 'green' },
  { value: PSI_WARN, color: 'yellow' },
  { value: PSI_ALERT, color: 'red' },
]);

export function driftDashboard() {
  const q = driftSql();
  const d = new DashboardBuilder('hitstream · Model drift')
    .uid('hitstream-drift')
    .tags(['hitstream', 'generated'])
    .description(
      `Features against the live version's training data; each version's scores (live and shadow) against its own. PSI ≥ ${PSI_ALERT} is drift.`,
    )
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
        .title('PSI of each version’s scores against its own training data, per minute')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.scorePsi))
        .thresholds(psiThresholds)
        .span(12)
        .height(8),
    )
    .withPanel(
      new TimeSeriesPanel()
        .title(
          `Attribution drift: each feature’s mean |SHAP| in the ${explainedScore()} score’s sampled explanations ÷ on its training rows (1 = as trained), per minute`,
        )
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.attribution))
        .span(24)
        .height(9),
    )
    .withPanel(
      new TimeSeriesPanel()
        .title('Disagreement between the four models (max − min score), per live version')
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(timeseries(q.disagreement))
        .span(12)
        .height(8),
    );
  const distributions = Object.entries(q.scoreDistribution) as [ScoreName, string][];
  for (const [m, query] of distributions)
    d.withPanel(
      new BarChartPanel()
        .title(`${m}: the live version’s scores vs its training data`)
        .datasource(CLICKHOUSE_DATASOURCE)
        .withTarget(table(query))
        // Four or five (with the ensemble) side by side.
        .span(Math.floor(24 / distributions.length))
        .height(7),
    );
  d.withRow(
    new RowBuilder(
      'Error against ground truth (labels from the labels stream, or the event’s own in a replay)',
    ),
  );
  d.withPanel(
    new TimeSeriesPanel()
      .title('By scoring time: RMSE and MAE of the predictions made each minute (live and shadow)')
      .datasource(CLICKHOUSE_DATASOURCE)
      .withTarget(timeseries(q.error))
      .span(12)
      .height(8),
  );
  d.withPanel(
    new TimeSeriesPanel()
      .title('By label arrival: RMSE of the predictions whose labels arrived each minute')
      .datasource(CLICKHOUSE_DATASOURCE)
      .withTarget(timeseries(q.errorByArrival))
      .span(12)
      .height(8),
  );
  d.withPanel(
    new TimeSeriesPanel()
      .title('Labelled events (% of those scored each minute) and how late the stream’s labels came (min)')
      .datasource(CLICKHOUSE_DATASOURCE)
      .withTarget(timeseries(q.labelCoverage))
      .span(24)
      .height(6),
  );
  d.withPanel(
    new TimeSeriesPanel()
      .title(
        'RMSE estimated before labels (over the last 15 min) beside the realized RMSE, per model and version',
      )
      .datasource(CLICKHOUSE_DATASOURCE)
      .withTarget(timeseries(q.estimated))
      .span(24)
      .height(8),
  );
  return d;
}
