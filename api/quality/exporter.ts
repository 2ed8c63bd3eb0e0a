/**
 * Model-quality series for Prometheus, per served version (live and shadow): feature and score
 * PSI, error on labelled events, disagreement, each with the events behind it, and each version's
 * own test RMSE (what the error rules compare with). Computed from ClickHouse every
 * HITSTREAM_QUALITY_INTERVAL_SECONDS over HITSTREAM_QUALITY_WINDOW_SECONDS, never per scrape: a
 * scrape reads the last result, so Prometheus' interval and the number of scrapers cost nothing.
 *
 * It runs in the API because the API already holds what it needs (the served versions and their
 * references, a ClickHouse reader, a /metrics) and is one process per deployment on one box; with
 * several API replicas each computes the same values (a few small queries a minute each); their
 * alerts differ only by `instance`, and Alertmanager groups them (by rule, version, feature,
 * model) into one notification.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { describeError } from '../../lib/errors.ts';
import type { Serving } from '../../registry/serving.ts';
import type { StorageReader } from '../storage.ts';
import { measureVersion, type VersionQuality } from './measure.ts';

export interface QualityExporter {
  /** Computes once now (tests; the timer does it otherwise). */
  runOnce(): Promise<void>;
  /** The last results, by role. */
  last(): { at: Date; results: { role: string; quality: VersionQuality }[] } | undefined;
  stop(): void;
}

function qualityGauges(registry: Registry) {
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const v = ['version', 'role'];
  return {
    featurePsi: gauge(
      'hitstream_feature_psi',
      'PSI of a feature in the window against the version’s training data',
      [...v, 'feature'],
    ),
    featureEvents: gauge(
      'hitstream_feature_window_events',
      'Track events in the window (behind each feature PSI)',
      v,
    ),
    scorePsi: gauge(
      'hitstream_score_psi',
      'PSI of a model’s scores in the window against its training scores',
      [...v, 'model'],
    ),
    scoredEvents: gauge('hitstream_scored_window_events', 'Events the model scored in the window', [
      ...v,
      'model',
    ]),
    rmse: gauge('hitstream_labelled_rmse', 'RMSE on the labelled events scored in the window', [
      ...v,
      'model',
    ]),
    mae: gauge('hitstream_labelled_mae', 'MAE on the labelled events scored in the window', [...v, 'model']),
    bias: gauge(
      'hitstream_labelled_bias',
      'Mean of score − label on the labelled events scored in the window',
      [...v, 'model'],
    ),
    estimated: gauge(
      'hitstream_estimated_rmse',
      'RMSE estimated before labels on the window’s events (direct loss estimation; the version’s error-estimate.json)',
      [...v, 'model'],
    ),
    labelled: gauge('hitstream_labelled_events', 'Labelled events scored in the window', [...v, 'model']),
    testRmse: gauge('hitstream_test_rmse', 'The version’s RMSE on its held-out test split at training', [
      'version',
      'model',
    ]),
    disagreement: gauge(
      'hitstream_disagreement',
      'Mean spread (max − min) of the four models’ scores per event in the window',
      v,
    ),
    disagreementEvents: gauge('hitstream_disagreement_events', 'Events behind hitstream_disagreement', v),
    lastRun: gauge(
      'hitstream_quality_last_run_timestamp_seconds',
      'When the quality series were last computed',
      [],
    ),
    runSeconds: gauge('hitstream_quality_run_seconds', 'How long the last computation took', []),
    failures: new Counter({
      name: 'hitstream_quality_run_failures_total',
      help: 'Computations of the quality series that failed (ClickHouse down, a query refused)',
      registers: [registry],
    }),
  };
}
type Gauges = ReturnType<typeof qualityGauges>;

function record(g: Gauges, serving: Serving, results: { role: string; quality: VersionQuality }[]) {
  for (const x of Object.values(g))
    if (x instanceof Gauge && x !== g.lastRun && x !== g.runSeconds) x.reset();
  for (const { role, quality: q } of results) {
    const v = { version: q.version, role };
    let events = 0;
    for (const [feature, c] of Object.entries(q.features)) {
      if (c.psi !== null) g.featurePsi.set({ ...v, feature }, c.psi);
      events = Math.max(events, c.n);
    }
    g.featureEvents.set(v, events);
    for (const [model, c] of Object.entries(q.models)) {
      const m = { ...v, model };
      if (c.psi !== null) g.scorePsi.set(m, c.psi);
      g.scoredEvents.set(m, c.n);
      g.labelled.set(m, c.labelled.n);
      if (c.labelled.rmse !== null) g.rmse.set(m, c.labelled.rmse);
      if (c.labelled.mae !== null) g.mae.set(m, c.labelled.mae);
      if (c.labelled.bias !== null) g.bias.set(m, c.labelled.bias);
      if (c.estimated_rmse !== null) g.estimated.set(m, c.estimated_rmse);
    }
    g.disagreementEvents.set(v, q.disagreement.n);
    if (q.disagreement.mean_spread !== null) g.disagreement.set(v, q.disagreement.mean_spread);
    const set = serving.byVersion(q.version)?.models;
    if (set) {
      for (const [model, manifest] of Object.entries(set.manifests))
        g.testRmse.set({ version: q.version, model }, manifest.metrics.grouped.rmse);
      if (set.ensemble)
        g.testRmse.set({ version: q.version, model: 'ensemble' }, set.ensemble.metrics.grouped.rmse);
    }
  }
}

export interface EstimateRow {
  minute: number;
  version: string;
  role: string;
  model: string;
  estimated_rmse: number;
  events: number;
  window_seconds: number;
  computed_at: number;
}

function estimateRows(
  results: { role: string; quality: VersionQuality }[],
  windowSeconds: number,
): EstimateRow[] {
  const now = Math.floor(Date.now() / 1000);
  return results.flatMap(({ role, quality: q }) =>
    Object.entries(q.models).flatMap(([model, c]) =>
      c.estimated_rmse === null
        ? []
        : [
            {
              minute: now - (now % 60),
              version: q.version,
              role,
              model,
              estimated_rmse: c.estimated_rmse,
              events: q.estimate.events_sampled,
              window_seconds: windowSeconds,
              computed_at: now,
            },
          ],
    ),
  );
}

export function startQualityExporter(deps: {
  storage: StorageReader;
  serving: Serving;
  registry: Registry;
  intervalSeconds: number;
  windowSeconds: number;
  log: Pick<Logger, 'warn' | 'info'>;
  /** Stores each computation's estimates (table error_estimates), for the dashboards and calibration. */
  storeEstimates?: (rows: EstimateRow[]) => Promise<void>;
}): QualityExporter {
  const g = qualityGauges(deps.registry);
  let last: ReturnType<QualityExporter['last']>;
  let failing = false;
  let running: Promise<void> | undefined;
  const compute = async () => {
    const t0 = performance.now();
    const shadow = deps.serving.shadow();
    const served = [
      { role: 'live', version: deps.serving.live().version },
      ...(shadow ? [{ role: 'shadow', version: shadow.version }] : []),
    ];
    try {
      const results = await Promise.all(
        served.map(async ({ role, version }) => ({
          role,
          quality: await measureVersion(deps.storage, deps.serving, version, deps.windowSeconds),
        })),
      );
      record(g, deps.serving, results);
      await deps.storeEstimates?.(estimateRows(results, deps.windowSeconds));
      last = { at: new Date(), results };
      g.lastRun.set(Date.now() / 1000);
      g.runSeconds.set((performance.now() - t0) / 1000);
      if (failing) deps.log.info('quality metrics computed again');
      failing = false;
    } catch (err) {
      g.failures.inc();
      // One line when it starts failing, not one a minute.
      if (!failing)
        deps.log.warn(
          { err: describeError(err) },
          'cannot compute the quality metrics (drift, error) from ClickHouse; retrying every interval',
        );
      failing = true;
    }
  };
  const runOnce = () => (running ??= compute().finally(() => (running = undefined)));
  const timer = setInterval(() => void runOnce(), deps.intervalSeconds * 1000);
  timer.unref();
  void runOnce();
  return { runOnce, last: () => last, stop: () => clearInterval(timer) };
}
