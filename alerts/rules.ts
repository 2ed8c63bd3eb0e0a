/**
 * hitstream's alert rules, one definition each. `alerts/prometheus.ts` renders them as a
 * Prometheus rule file and `alerts/grafana.ts` as Grafana alert rules, from the same PromQL, so
 * both paths fire on the same conditions and thresholds. The thresholds that history can tune live
 * in thresholds.json, which `npx hitstream alerts calibrate` rewrites.
 *
 * The model-quality series (PSI, error, disagreement) are the API's (api/quality/), computed from
 * ClickHouse once a minute over a 15-minute window; the rest are the workers' own metrics.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Severity = 'critical' | 'warning' | 'info';

/** A threshold that history can tune, with the events a value needs to be judged at all. */
export interface Tunable {
  threshold: number;
  /** Values computed from fewer events are noise (a 10-bin PSI of 100 events is ~0.09 on average). */
  min_events: number;
  /** Per label value (e.g. per feature) where calibration found the features differ. */
  per?: { label: string; values: Record<string, number> };
  /** When and on what `alerts calibrate` chose these; null for the hand-set defaults. */
  calibrated: null | { at: string; history: string; false_alarms_per_week: number; windows: number };
}

export const THRESHOLDS_FILE = fileURLToPath(new URL('./thresholds.json', import.meta.url));
export type Thresholds = Record<string, Tunable>;
export const readThresholds = (path = THRESHOLDS_FILE): Thresholds =>
  JSON.parse(readFileSync(path, 'utf8')) as Thresholds;

export interface AlertRule {
  name: string;
  severity: Severity;
  /** The PromQL whose series are the alerts: one series per thing that fires. */
  expr: string;
  for: string;
  /** One line; may use {{ $labels.x }} and {{ $value }}. */
  summary: string;
  /** What to do, with the hitstream command. */
  runbook: string;
  /** The thresholds.json entry it reads, when it has one. */
  tunable?: string;
}

/** `value > threshold`, per label value when calibration set some (a constant vector per value). */
export function overThreshold(value: string, t: Tunable): string {
  if (!t.per || !Object.keys(t.per.values).length) return `(${value}) > ${t.threshold}`;
  const { label, values } = t.per;
  const constants = Object.entries(values)
    .map(([v, x]) => `label_replace(vector(${x}), "${label}", "${v}", "", "")`)
    .join(' or ');
  return `((${value}) > on(${label}) group_left() (${constants})) or (((${value}) unless on(${label}) (${constants})) > ${t.threshold})`;
}

/** `value` where its window held at least `min_events` events (`count` has the same labels but `per`). */
const withEnough = (value: string, count: string, on: string, min: number) =>
  `${value} and on(${on}) (${count} >= ${min})`;

export function alertRules(th: Thresholds = readThresholds()): AlertRule[] {
  const t = (name: string) => {
    const x = th[name];
    if (!x) throw new Error(`alerts/thresholds.json has no entry ${name}`);
    return x;
  };
  const fd = t('HitstreamFeatureDrift');
  const sd = t('HitstreamScoreDrift');
  const err = t('HitstreamErrorAboveTest');
  const est = t('HitstreamEstimatedErrorRising');
  const dis = t('HitstreamModelsDisagree');
  return [
    {
      name: 'HitstreamFeatureDrift',
      severity: 'warning',
      tunable: 'HitstreamFeatureDrift',
      expr: overThreshold(
        withEnough(
          'hitstream_feature_psi{role="live"}',
          'hitstream_feature_window_events{role="live"}',
          'version, role',
          fd.min_events,
        ),
        fd,
      ),
      // The value is already a 15-minute aggregate over ≥ min_events, recomputed once a minute: a
      // `for` would only add its length to the time to notification (goal: ≤ 2 min).
      for: '0s',
      summary:
        'Feature {{ $labels.feature }} drifted from version {{ $labels.version }}’s training data: PSI {{ $value | printf "%.3f" }} over the last 15 min',
      runbook:
        'Open /dashboards.html (drift) to see which bins moved; check the producer of the events for a change in units or sources (`npx hitstream dead-letters list` for rejected ones); if the world changed, retrain on recent events: `npx hitstream train --from clickhouse --since 30d --push`, then `npx hitstream models shadow VERSION`.',
    },
    {
      name: 'HitstreamScoreDrift',
      severity: 'warning',
      tunable: 'HitstreamScoreDrift',
      expr: overThreshold(
        withEnough(
          'hitstream_score_psi',
          'hitstream_scored_window_events',
          'version, role, model',
          sd.min_events,
        ),
        sd,
      ),
      for: '0s',
      summary:
        'The {{ $labels.model }} scores of version {{ $labels.version }} ({{ $labels.role }}) drifted from its training scores: PSI {{ $value | printf "%.3f" }} over the last 15 min',
      runbook:
        'Compare with feature drift on /dashboards.html: score drift without feature drift points at the model set (`npx hitstream models list`; `npx hitstream models rollback` returns to the previous live version).',
    },
    {
      name: 'HitstreamErrorAboveTest',
      severity: 'warning',
      tunable: 'HitstreamErrorAboveTest',
      expr: `(${withEnough(
        'hitstream_labelled_rmse',
        'hitstream_labelled_events',
        'version, role, model',
        err.min_events,
      )}) > on(version, model) group_left() (hitstream_test_rmse * ${1 + err.threshold})`,
      for: '5m',
      summary:
        'The {{ $labels.model }} error of version {{ $labels.version }} ({{ $labels.role }}) on labelled events is RMSE {{ $value | printf "%.2f" }}, over its test RMSE by more than ' +
        `${Math.round(err.threshold * 100)}%`,
      runbook:
        'Check feature drift first; `npx hitstream models compare` shows live and shadow on the same labelled events; retrain: `npx hitstream train --from clickhouse --since 30d --push`.',
    },
    {
      name: 'HitstreamEstimatedErrorRising',
      severity: 'warning',
      tunable: 'HitstreamEstimatedErrorRising',
      expr: `(${withEnough(
        'hitstream_estimated_rmse',
        'hitstream_scored_window_events',
        'version, role, model',
        est.min_events,
      )}) > on(version, model) group_left() (hitstream_test_rmse * ${1 + est.threshold})`,
      for: '5m',
      summary:
        'The estimated {{ $labels.model }} error of version {{ $labels.version }} ({{ $labels.role }}) before labels is RMSE {{ $value | printf "%.2f" }}, over its test RMSE by more than ' +
        `${Math.round(est.threshold * 100)}%`,
      runbook:
        'The estimate reads the features and scores of unlabelled events: look at feature drift on /dashboards.html, then retrain on recent labelled events (`npx hitstream train --from clickhouse --since 30d --push`) before the labels confirm it.',
    },
    {
      name: 'HitstreamModelsDisagree',
      severity: 'warning',
      tunable: 'HitstreamModelsDisagree',
      expr: overThreshold(
        withEnough(
          'hitstream_disagreement{role="live"}',
          'hitstream_disagreement_events{role="live"}',
          'version, role',
          dis.min_events,
        ),
        dis,
      ),
      for: '5m',
      summary:
        'The four models of version {{ $labels.version }} disagree: mean spread {{ $value | printf "%.1f" }} points per event over the last 15 min',
      runbook:
        'Events unlike the training data split the models first: check feature drift on /dashboards.html and the disagreement panel; `npx hitstream models list` for what is served.',
    },
    {
      name: 'HitstreamDeadLetters',
      severity: 'warning',
      expr: '(sum(rate(hitstream_dead_letters_total[5m])) / sum(rate(hitstream_events_in_total[5m])) > 0.01) and on() (sum(increase(hitstream_dead_letters_total[5m])) >= 10)',
      for: '2m',
      summary: 'More than 1% of events are dead letters: {{ $value | humanizePercentage }} over 5 min',
      runbook:
        '`npx hitstream dead-letters list --since 1h` names the field and the reason; fix the producer or the schema, then `npx hitstream dead-letters redrive --since 1h`.',
    },
    {
      name: 'HitstreamConsumerLagGrowing',
      severity: 'warning',
      expr: '(sum(hitstream_consumer_lag) > 10000) and on() (sum(deriv(hitstream_consumer_lag[5m])) > 0)',
      for: '5m',
      summary: 'The workers fall behind: {{ $value }} events not yet scored, and growing',
      runbook:
        'Add workers (`npx hitstream up --workers N`, or the KEDA ScaledObject in deploy/ on Kubernetes) up to the tracks topic’s partition count; check ClickHouse with `npx hitstream stack status`.',
    },
    {
      name: 'HitstreamLatencyHigh',
      severity: 'warning',
      expr: 'histogram_quantile(0.99, sum by (le) (rate(hitstream_event_to_prediction_ms_bucket[5m]))) > 1000',
      for: '5m',
      summary: 'p99 from event to prediction is {{ $value | printf "%.0f" }} ms (over 1 s for 5 min)',
      runbook:
        'See the pipeline dashboard: lag and CPU per worker; add workers, or lower HITSTREAM_FETCH_WAIT_MS; `npx hitstream bench pipeline` measures the box.',
    },
    {
      name: 'HitstreamServiceDown',
      severity: 'critical',
      expr: 'up{job=~"hitstream-workers|hitstream-api|hitstream-autopilot"} < 1',
      for: '1m',
      summary: '{{ $labels.service }} {{ $labels.instance }} does not answer its /metrics',
      runbook:
        'Read its log (`npx hitstream up` prints it behind its name; on Kubernetes `kubectl logs`); a stuck event loop is restarted by the /live probe; `npx hitstream stack status` for Kafka and ClickHouse.',
    },
    {
      name: 'HitstreamWorkerNotReady',
      severity: 'critical',
      expr: 'hitstream_worker_ready < 1',
      for: '2m',
      summary:
        'Worker {{ $labels.instance }} runs but is not in the consumer group (waiting for Kafka or ClickHouse)',
      runbook:
        'Its /health says which service it waits for; `npx hitstream stack status`; a schema error needs `npx hitstream migrate`.',
    },
    {
      name: 'HitstreamEventLoopBlocked',
      severity: 'critical',
      expr: '{__name__=~"hitstream_(worker|api)_nodejs_eventloop_lag_p99_seconds"} > 1',
      for: '2m',
      summary: '{{ $labels.instance }}’s event loop is blocked: p99 lag {{ $value | printf "%.1f" }} s',
      runbook:
        'Nothing it serves is answered in time; its /live probe fails and Kubernetes restarts it. Take a CPU profile (`node --cpu-prof`) if it recurs.',
    },
    {
      name: 'HitstreamVersionLoadFailed',
      severity: 'critical',
      expr: 'increase(hitstream_model_load_failures_total[15m]) > 0',
      for: '0s',
      summary:
        'Version {{ $labels.version }} failed to load on {{ $labels.instance }}; the previous set keeps serving',
      runbook:
        '`npx hitstream models list` shows the roles; the log names the file and reason; `npx hitstream models rollback` makes the previous version live everywhere.',
    },
    {
      name: 'HitstreamAutopilotRunFailed',
      severity: 'warning',
      expr: 'sum by (outcome) (increase(hitstream_autopilot_runs_total{outcome=~"failed|rolled back"}[1h])) > 0',
      for: '0s',
      summary:
        'An autopilot run ended {{ $labels.outcome }} in the last hour: live is the version it was before',
      runbook:
        '`npx hitstream autopilot status` gives each step with its reason and figures (the Models page draws them); a failed training names its cause (too few labelled rows: lower training.min_labelled_rows or widen training.since in the policy); a rollback names the test that decided it.',
    },
    {
      name: 'HitstreamQualityMetricsStale',
      severity: 'warning',
      expr: 'time() - max(hitstream_quality_last_run_timestamp_seconds) > 300',
      for: '2m',
      summary: 'The drift and error metrics have not been computed for {{ $value | printf "%.0f" }} s',
      runbook:
        'The API computes them from ClickHouse once a minute: its log names the failing query; `npx hitstream stack status` and `npx hitstream migrate`.',
    },
  ];
}
