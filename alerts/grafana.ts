/**
 * The rules as Grafana alert rules: each queries the provisioned Prometheus with the rule's own
 * PromQL, so a series Prometheus would fire on is a series Grafana fires on (same thresholds, same
 * guards). B keeps each series' last value; C is true for every series present.
 */
import { QueryBuilder, RuleBuilder, RuleGroupBuilder } from '@grafana/grafana-foundation-sdk/alerting';
import { TypeMathBuilder, TypeReduceBuilder } from '@grafana/grafana-foundation-sdk/expr';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import type { AlertRule } from './rules.ts';

/** dashboards/provisioning/datasources/clickhouse.yaml provisions it beside ClickHouse. */
export const PROMETHEUS_DATASOURCE = { type: 'prometheus', uid: 'hitstream-prometheus' };

export function grafanaRuleGroup(rules: AlertRule[]) {
  const group = new RuleGroupBuilder('hitstream').folderUid('hitstream').interval(60);
  for (const r of rules)
    group.withRule(
      new RuleBuilder(r.name)
        .uid(`hitstream-${r.name.replace(/^Hitstream/, '').toLowerCase()}`)
        .condition('C')
        .withQuery(
          new QueryBuilder('A')
            .datasourceUid(PROMETHEUS_DATASOURCE.uid)
            .relativeTimeRange({ from: 600, to: 0 })
            .model(new DataqueryBuilder().expr(r.expr).instant().refId('A')),
        )
        .withQuery(
          new QueryBuilder('B')
            .datasourceUid('__expr__')
            .model(
              new TypeReduceBuilder().refId('B').expression('A').reducer('last').settings({ mode: 'dropNN' }),
            ),
        )
        .withQuery(
          new QueryBuilder('C')
            .datasourceUid('__expr__')
            .model(new TypeMathBuilder().refId('C').expression('is_number($B)')),
        )
        .forDuration(r.for)
        // No series is the quiet state: the PromQL returns only what fires.
        .noDataState('OK')
        .execErrState('Error')
        .labels({ team: 'ml', severity: r.severity })
        .annotations({ summary: r.summary, runbook: r.runbook }),
    );
  return group;
}

/** The file Grafana's provisioning reads (dashboards/provisioning/alerting/). */
export function grafanaProvisioning(rules: AlertRule[]) {
  const group = grafanaRuleGroup(rules).build();
  return {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: group.title,
        folder: 'hitstream',
        interval: `${group.interval}s`,
        rules: (group.rules ?? []).map((r) => ({
          uid: r.uid,
          title: r.title,
          condition: r.condition,
          data: r.data,
          for: r.for,
          noDataState: r.noDataState,
          execErrState: r.execErrState,
          labels: r.labels,
          annotations: r.annotations,
        })),
      },
    ],
  };
}
