/**
 * The estimated RMSE of each of a version's scores over the window, before labels: a sample of the
 * window's events (features and scores) from ClickHouse through the version's error estimator
 * (models/error-estimate.ts). Undefined when the version ships none.
 */
import { type ErrorEstimator, type RawFeatures, spreadsOf } from '../../models/error-estimate.ts';
import { estimateRowsSql } from '../../warehouse/drift-sql.ts';
import type { ScoreName } from '../../schemas/index.ts';
import { FEATURE_NAMES } from '../../schemas/track-features.ts';
import type { StorageReader } from '../storage.ts';

/** Events an estimate reads at most (a hash picks one in N): enough for an RMSE to ±2%. */
export const ESTIMATE_SAMPLE = 5_000;

type Row = { event_id: string; model: string; score: number } & Record<string, number | string>;

export async function estimateErrors(
  storage: StorageReader,
  estimator: ErrorEstimator,
  version: string,
  windowSeconds: number,
  eventsInWindow: number,
): Promise<{ events: number; rmse: Partial<Record<ScoreName, number>> }> {
  if (!eventsInWindow) return { events: 0, rmse: {} };
  const modulo = Math.ceil(eventsInWindow / ESTIMATE_SAMPLE);
  const rows = await storage.rows<Row>(
    'read the events for the error estimate',
    estimateRowsSql(windowSeconds, version, modulo),
  );
  const events = new Map<
    string,
    { features: RawFeatures; genre: string | undefined; scores: Partial<Record<ScoreName, number>> }
  >();
  for (const r of rows) {
    let e = events.get(r.event_id);
    if (!e) {
      e = {
        features: Object.fromEntries(FEATURE_NAMES.map((f) => [f, Number(r[f])])) as RawFeatures,
        genre: typeof r.track_genre === 'string' && r.track_genre ? r.track_genre : undefined,
        scores: {},
      };
      events.set(r.event_id, e);
    }
    e.scores[r.model as ScoreName] = Number(r.score);
  }
  const all = [...events.values()];
  const rmse: Partial<Record<ScoreName, number>> = {};
  for (const score of estimator.scores) {
    const scored = all.filter((e) => e.scores[score] !== undefined && e.scores.rf !== undefined);
    if (!scored.length) continue;
    const per = (m: ScoreName) => Float32Array.from(scored, (e) => e.scores[m] ?? Number.NaN);
    const spreads = spreadsOf({ rf: per('rf'), xgb: per('xgb'), mlp: per('mlp'), tabnet: per('tabnet') });
    const value = estimator.estimateRmse(
      score,
      scored.map((e) => e.features),
      scored.map((e) => e.genre),
      per(score),
      spreads,
    );
    if (value !== undefined && Number.isFinite(value)) rmse[score] = value;
  }
  return { events: all.length, rmse };
}
