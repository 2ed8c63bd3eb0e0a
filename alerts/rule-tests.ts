/**
 * Prometheus' own unit tests of the rules (`promtool test rules`): for every rule, series on which
 * it must fire, with the labels and summary it must fire with, and series on which it must stay
 * quiet. Written here, not in YAML, only so each expected alert takes its runbook from the rule
 * (promtool compares annotations exactly); the summaries are written out by hand, so the
 * templates are tested too. `npx hitstream dashboards` writes alerts/generated/rules.test.yml.
 */
import { stringify } from 'yaml';
import type { AlertRule } from './rules.ts';

interface Expected {
  labels: Record<string, string>;
  summary: string;
}
interface Case {
  /** What the case shows, a YAML comment above it. */
  what: string;
  series: Record<string, string>;
  alert: string;
  at: string;
  /** Empty: the rule must stay quiet. */
  expect: Expected[];
}

const live = 'role="live",version="v1"';
const CASES: Case[] = [
  {
    what: 'energy drifts over 3,000 events; danceability does not',
    series: {
      [`hitstream_feature_psi{${live},feature="energy"}`]: '0.5x10',
      [`hitstream_feature_psi{${live},feature="danceability"}`]: '0.01x10',
      [`hitstream_feature_window_events{${live}}`]: '3000x10',
    },
    alert: 'HitstreamFeatureDrift',
    at: '5m',
    expect: [
      {
        labels: { role: 'live', version: 'v1', feature: 'energy' },
        summary: 'Feature energy drifted from version v1’s training data: PSI 0.500 over the last 15 min',
      },
    ],
  },
  {
    what: 'the same PSI from 100 events is noise: quiet',
    series: {
      [`hitstream_feature_psi{${live},feature="energy"}`]: '0.5x10',
      [`hitstream_feature_window_events{${live}}`]: '100x10',
    },
    alert: 'HitstreamFeatureDrift',
    at: '5m',
    expect: [],
  },
  {
    what: 'a shadow version’s rf scores drift',
    series: {
      'hitstream_score_psi{role="shadow",version="v2",model="rf"}': '0.4x10',
      'hitstream_score_psi{role="shadow",version="v2",model="xgb"}': '0.05x10',
      'hitstream_scored_window_events{role="shadow",version="v2",model="rf"}': '2000x10',
      'hitstream_scored_window_events{role="shadow",version="v2",model="xgb"}': '2000x10',
    },
    alert: 'HitstreamScoreDrift',
    at: '5m',
    expect: [
      {
        labels: { role: 'shadow', version: 'v2', model: 'rf' },
        summary:
          'The rf scores of version v2 (shadow) drifted from its training scores: PSI 0.400 over the last 15 min',
      },
    ],
  },
  {
    what: 'scores within their training distribution: quiet',
    series: {
      'hitstream_score_psi{role="live",version="v1",model="rf"}': '0.05x10',
      'hitstream_scored_window_events{role="live",version="v1",model="rf"}': '2000x10',
    },
    alert: 'HitstreamScoreDrift',
    at: '5m',
    expect: [],
  },
  {
    what: 'RMSE 20 on 500 labelled events against a test RMSE of 15',
    series: {
      [`hitstream_labelled_rmse{${live},model="rf"}`]: '20x15',
      [`hitstream_labelled_events{${live},model="rf"}`]: '500x15',
      'hitstream_test_rmse{version="v1",model="rf"}': '15x15',
    },
    alert: 'HitstreamErrorAboveTest',
    at: '10m',
    expect: [
      {
        labels: { role: 'live', version: 'v1', model: 'rf' },
        summary:
          'The rf error of version v1 (live) on labelled events is RMSE 20.00, over its test RMSE by more than 15%',
      },
    ],
  },
  {
    what: 'RMSE 20 on 50 labelled events, or 16 on 500: quiet',
    series: {
      [`hitstream_labelled_rmse{${live},model="rf"}`]: '20x15',
      [`hitstream_labelled_events{${live},model="rf"}`]: '50x15',
      [`hitstream_labelled_rmse{${live},model="xgb"}`]: '16x15',
      [`hitstream_labelled_events{${live},model="xgb"}`]: '500x15',
      'hitstream_test_rmse{version="v1",model="rf"}': '15x15',
      'hitstream_test_rmse{version="v1",model="xgb"}': '15x15',
    },
    alert: 'HitstreamErrorAboveTest',
    at: '10m',
    expect: [],
  },
  {
    what: 'the estimate before labels rises to 19 against a test RMSE of 15',
    series: {
      [`hitstream_estimated_rmse{${live},model="xgb"}`]: '19x15',
      [`hitstream_scored_window_events{${live},model="xgb"}`]: '1000x15',
      'hitstream_test_rmse{version="v1",model="xgb"}': '15x15',
    },
    alert: 'HitstreamEstimatedErrorRising',
    at: '10m',
    expect: [
      {
        labels: { role: 'live', version: 'v1', model: 'xgb' },
        summary:
          'The estimated xgb error of version v1 (live) before labels is RMSE 19.00, over its test RMSE by more than 15%',
      },
    ],
  },
  {
    what: 'an estimate near the test RMSE: quiet',
    series: {
      [`hitstream_estimated_rmse{${live},model="xgb"}`]: '15.5x15',
      [`hitstream_scored_window_events{${live},model="xgb"}`]: '1000x15',
      'hitstream_test_rmse{version="v1",model="xgb"}': '15x15',
    },
    alert: 'HitstreamEstimatedErrorRising',
    at: '10m',
    expect: [],
  },
  {
    what: 'the models spread 25 points per event',
    series: {
      [`hitstream_disagreement{${live}}`]: '25x15',
      [`hitstream_disagreement_events{${live}}`]: '1000x15',
    },
    alert: 'HitstreamModelsDisagree',
    at: '10m',
    expect: [
      {
        labels: { role: 'live', version: 'v1' },
        summary:
          'The four models of version v1 disagree: mean spread 25.0 points per event over the last 15 min',
      },
    ],
  },
  {
    what: 'a usual spread: quiet',
    series: {
      [`hitstream_disagreement{${live}}`]: '8x15',
      [`hitstream_disagreement_events{${live}}`]: '1000x15',
    },
    alert: 'HitstreamModelsDisagree',
    at: '10m',
    expect: [],
  },
  {
    what: '1 dead letter a second out of 10 events a second',
    series: {
      'hitstream_dead_letters_total{instance="w1",reason="out_of_range"}': '0+60x15',
      'hitstream_events_in_total{instance="w1"}': '0+600x15',
    },
    alert: 'HitstreamDeadLetters',
    at: '10m',
    expect: [{ labels: {}, summary: 'More than 1% of events are dead letters: 10% over 5 min' }],
  },
  {
    what: 'one dead letter a minute out of 600: quiet',
    series: {
      'hitstream_dead_letters_total{instance="w1",reason="out_of_range"}': '0+1x15',
      'hitstream_events_in_total{instance="w1"}': '0+600x15',
    },
    alert: 'HitstreamDeadLetters',
    at: '10m',
    expect: [],
  },
  {
    what: 'lag above 10,000 and growing by 1,000 a minute',
    series: {
      'hitstream_consumer_lag{instance="w1",partition="0"}': '10000+1000x20',
    },
    alert: 'HitstreamConsumerLagGrowing',
    at: '12m',
    expect: [{ labels: {}, summary: 'The workers fall behind: 22000 events not yet scored, and growing' }],
  },
  {
    what: 'a large lag that shrinks: quiet',
    series: {
      'hitstream_consumer_lag{instance="w1",partition="0"}': '40000-1000x20',
    },
    alert: 'HitstreamConsumerLagGrowing',
    at: '12m',
    expect: [],
  },
  {
    what: 'every event takes between 1 and 2 s',
    series: {
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="500"}': '0x20',
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="1000"}': '0x20',
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="2000"}': '0+100x20',
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="+Inf"}': '0+100x20',
    },
    alert: 'HitstreamLatencyHigh',
    at: '12m',
    expect: [{ labels: {}, summary: 'p99 from event to prediction is 1990 ms (over 1 s for 5 min)' }],
  },
  {
    what: 'every event under 500 ms: quiet',
    series: {
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="500"}': '0+100x20',
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="1000"}': '0+100x20',
      'hitstream_event_to_prediction_ms_bucket{instance="w1",le="+Inf"}': '0+100x20',
    },
    alert: 'HitstreamLatencyHigh',
    at: '12m',
    expect: [],
  },
  {
    what: 'worker 2 stops answering its scrapes; worker 1 and the API answer',
    series: {
      'up{job="hitstream-workers",instance="127.0.0.1:9465",service="worker"}': '1 1 0x5',
      'up{job="hitstream-workers",instance="127.0.0.1:9464",service="worker"}': '1x7',
      'up{job="hitstream-api",instance="127.0.0.1:8080",service="api"}': '1x7',
    },
    alert: 'HitstreamServiceDown',
    at: '5m',
    expect: [
      {
        labels: { job: 'hitstream-workers', instance: '127.0.0.1:9465', service: 'worker' },
        summary: 'worker 127.0.0.1:9465 does not answer its /metrics',
      },
    ],
  },
  {
    what: 'a worker that missed one scrape: quiet',
    series: { 'up{job="hitstream-workers",instance="127.0.0.1:9464",service="worker"}': '1 1 0 1x5' },
    alert: 'HitstreamServiceDown',
    at: '5m',
    expect: [],
  },
  {
    what: 'a worker waiting for ClickHouse for 3 minutes',
    series: { 'hitstream_worker_ready{instance="w1"}': '1 0x5' },
    alert: 'HitstreamWorkerNotReady',
    at: '4m',
    expect: [
      {
        labels: { instance: 'w1' },
        summary: 'Worker w1 runs but is not in the consumer group (waiting for Kafka or ClickHouse)',
      },
    ],
  },
  {
    what: 'a worker not ready for one minute (a rebalance): quiet',
    series: { 'hitstream_worker_ready{instance="w1"}': '1 0 1x5' },
    alert: 'HitstreamWorkerNotReady',
    at: '4m',
    expect: [],
  },
  {
    what: 'the API’s event loop lags 3 s',
    series: { 'hitstream_api_nodejs_eventloop_lag_p99_seconds{instance="api"}': '3x6' },
    alert: 'HitstreamEventLoopBlocked',
    at: '4m',
    expect: [
      {
        labels: { instance: 'api' },
        summary: 'api’s event loop is blocked: p99 lag 3.0 s',
      },
    ],
  },
  {
    what: 'an event loop lag of 20 ms: quiet',
    series: { 'hitstream_worker_nodejs_eventloop_lag_p99_seconds{instance="w1"}': '0.02x6' },
    alert: 'HitstreamEventLoopBlocked',
    at: '4m',
    expect: [],
  },
  {
    what: 'version v2 fails to load once',
    series: { 'hitstream_model_load_failures_total{instance="w1",version="v2"}': '0 0 1x5' },
    alert: 'HitstreamVersionLoadFailed',
    at: '4m',
    expect: [
      {
        labels: { instance: 'w1', version: 'v2' },
        summary: 'Version v2 failed to load on w1; the previous set keeps serving',
      },
    ],
  },
  {
    what: 'no failure for 20 minutes: quiet',
    series: { 'hitstream_model_load_failures_total{instance="w1",version="v2"}': '1x40' },
    alert: 'HitstreamVersionLoadFailed',
    at: '38m',
    expect: [],
  },
  {
    what: 'an autopilot run fails at minute 5',
    series: {
      'hitstream_autopilot_runs_total{instance="autopilot",outcome="failed"}': '0x5 1x10',
      'hitstream_autopilot_runs_total{instance="autopilot",outcome="promoted"}': '0x15',
    },
    alert: 'HitstreamAutopilotRunFailed',
    at: '10m',
    expect: [
      {
        labels: { outcome: 'failed' },
        summary: 'An autopilot run ended failed in the last hour: live is the version it was before',
      },
    ],
  },
  {
    what: 'autopilot runs promote and retire: quiet',
    series: {
      'hitstream_autopilot_runs_total{instance="autopilot",outcome="promoted"}': '0x5 1x10',
      'hitstream_autopilot_runs_total{instance="autopilot",outcome="retired"}': '0x3 1x12',
    },
    alert: 'HitstreamAutopilotRunFailed',
    at: '10m',
    expect: [],
  },
  {
    what: 'the quality metrics stop at minute 0',
    series: { 'hitstream_quality_last_run_timestamp_seconds{instance="api"}': '0x15' },
    alert: 'HitstreamQualityMetricsStale',
    at: '10m',
    expect: [{ labels: {}, summary: 'The drift and error metrics have not been computed for 600 s' }],
  },
  {
    what: 'computed every minute: quiet',
    series: { 'hitstream_quality_last_run_timestamp_seconds{instance="api"}': '0+60x15' },
    alert: 'HitstreamQualityMetricsStale',
    at: '10m',
    expect: [],
  },
];

/** Every rule is tested both ways: `rules` without a firing and a quiet case is a mistake. */
export function untestedRules(rules: AlertRule[]): string[] {
  return rules
    .filter(
      (r) =>
        !CASES.some((c) => c.alert === r.name && c.expect.length) ||
        !CASES.some((c) => c.alert === r.name && !c.expect.length),
    )
    .map((r) => r.name);
}

export function ruleTestFile(rules: AlertRule[]): string {
  const byName = new Map(rules.map((r) => [r.name, r]));
  const tests = CASES.map((c) => {
    const rule = byName.get(c.alert);
    if (!rule) throw new Error(`a rule test names ${c.alert}, which alerts/rules.ts does not define`);
    return {
      name: c.what,
      interval: '1m',
      input_series: Object.entries(c.series).map(([series, values]) => ({ series, values })),
      alert_rule_test: [
        {
          eval_time: c.at,
          alertname: c.alert,
          exp_alerts: c.expect.map((e) => ({
            exp_labels: { ...e.labels, severity: rule.severity, team: 'ml' },
            exp_annotations: { summary: e.summary, runbook: rule.runbook },
          })),
        },
      ],
    };
  });
  return (
    '# Generated by `npx hitstream dashboards` from alerts/rule-tests.ts; run with\n# `promtool test rules alerts/generated/rules.test.yml`.\n' +
    stringify({ rule_files: ['prometheus-rules.yml'], evaluation_interval: '1m', tests }, { lineWidth: 0 })
  );
}
