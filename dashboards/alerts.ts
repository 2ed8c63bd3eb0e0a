/** Alert rule: any feature's PSI over the last 15 minutes at or above 0.2. */
import { QueryBuilder, RuleBuilder, RuleGroupBuilder } from '@grafana/grafana-foundation-sdk/alerting';
import { TypeReduceBuilder, TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr';
import { CLICKHOUSE_DATASOURCE, timeseries } from './common.ts';
import { driftSql, PSI_ALERT } from './drift.ts';

export function driftAlerts() {
  const psi = driftSql().featurePsi;
  return new RuleGroupBuilder('hitstream drift')
    .folderUid('hitstream')
    .interval(60)
    .withRule(
      new RuleBuilder(`Feature drift: PSI ≥ ${PSI_ALERT}`)
        .uid('hitstream-feature-psi')
        .condition('C')
        .withQuery(
          new QueryBuilder('A')
            .datasourceUid(CLICKHOUSE_DATASOURCE.uid)
            .relativeTimeRange({ from: 900, to: 0 })
            .model(timeseries(psi)),
        )
        .withQuery(
          new QueryBuilder('B')
            .datasourceUid('__expr__')
            .model(new TypeReduceBuilder().refId('B').expression('A').reducer('max')),
        )
        .withQuery(
          new QueryBuilder('C').datasourceUid('__expr__').model(
            new TypeThresholdBuilder()
              .refId('C')
              .expression('B')
              .conditions([{ evaluator: { type: 'gt', params: [PSI_ALERT] } }]),
          ),
        )
        .forDuration('2m')
        .noDataState('OK')
        .execErrState('Error')
        .labels({ team: 'ml', severity: 'warning' })
        .annotations({
          summary: 'A track feature drifted from the training data (PSI ≥ 0.2 over 15 min)',
          dashboardUid: 'hitstream-drift',
        }),
    );
}
