/**
 * One version's quality over a window, from ClickHouse: PSI of each feature and of each score
 * against the version's training reference (with the events behind each), its error on the
 * labelled events, and how much its four models disagree. `GET /drift` answers with it; the
 * quality exporter turns it into Prometheus series once a minute.
 */
import { HitstreamError } from '../../lib/errors.ts';
import { type BinnedReference, jensenShannon, psi, shares } from '../../models/drift-reference.ts';
import {
  disagreementInWindowSql,
  featureBinsSql,
  scoreBinsSql,
  versionErrorSql,
} from '../../warehouse/drift-sql.ts';
import { driftReferencesSql, parseDriftReferences, referencesOf } from '../../registry/references.ts';
import type { Serving } from '../../registry/serving.ts';
import type { ScoreName } from '../../schemas/index.ts';
import { FEATURE_NAMES } from '../../schemas/track-features.ts';
import { estimateErrors } from './estimate.ts';
import type { StorageReader } from '../storage.ts';

/** What the drift pages colour as drift; the alert's threshold is alerts/thresholds.json's. */
export const PSI_ALERT = 0.2;

interface BinRow {
  key: string;
  bin: number;
  n: number;
}

export interface Comparison {
  n: number;
  psi: number | null;
  js: number | null;
  drifted: boolean;
  live: number[];
  reference: number[];
}

function compare(rows: BinRow[], key: string, ref: BinnedReference): Comparison {
  const counts = new Map(rows.filter((r) => r.key === key).map((r) => [Number(r.bin), Number(r.n)]));
  const live = shares(counts, ref.proportions.length);
  const n = [...counts.values()].reduce((a, b) => a + b, 0);
  const p = n ? psi(ref.proportions, live) : null;
  return {
    n,
    psi: p,
    js: n ? jensenShannon(ref.proportions, live) : null,
    drifted: p !== null && p >= PSI_ALERT,
    live,
    reference: ref.proportions,
  };
}

interface ErrorRow {
  model: string;
  n: string | number;
  rmse: number | null;
  mae: number | null;
  bias: number | null;
  /** Of n, the rows judged by a label from the labels stream (the rest by the event's own). */
  from_stream: string | number;
  /** Mean time from scoring to the stream labels' arrival, seconds (0 for an event's own label). */
  mean_label_delay_s: number | null;
}

/** The references of `version`: from memory when it is served, else from drift_references. */
async function referencesFor(storage: StorageReader, serving: Serving, version: string) {
  const served = serving.byVersion(version);
  if (served) return referencesOf(served.models);
  const rows = await storage.rows<Record<string, unknown>>(
    'read the drift references',
    driftReferencesSql(version),
  );
  const refs = parseDriftReferences(rows);
  if (!refs)
    throw new HitstreamError(
      'unknown_version',
      `version ${version} has no drift references (served: ${serving.live().version}${serving.shadow() ? `, shadow ${serving.shadow()!.version}` : ''}; \`npx hitstream models list\` lists the registry)`,
      { field: 'version', status: 404 },
    );
  return refs;
}

const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));

export async function measureVersion(
  storage: StorageReader,
  serving: Serving,
  version: string,
  seconds: number,
) {
  // The version's own references: a promotion changes them with no dashboards run.
  const ref = await referencesFor(storage, serving, version);
  const featureEdges = Object.fromEntries(Object.entries(ref.features).map(([f, r]) => [f, r.edges]));
  // The ensemble's too when the version has one.
  const scoreNames = Object.keys(ref.scores) as ScoreName[];
  const scoreEdges = Object.fromEntries(scoreNames.map((m) => [m, ref.scores[m]!.edges]));
  const [fr, sr, er, dr] = await Promise.all([
    storage.rows<{ feature: string; bin: number; n: string }>(
      'read the feature drift',
      featureBinsSql(featureEdges, seconds),
    ),
    storage.rows<{ model: string; bin: number; n: string }>(
      'read the score drift',
      scoreBinsSql(scoreEdges, seconds, version),
    ),
    storage.rows<ErrorRow>('read the error on labelled events', versionErrorSql(seconds, version)),
    storage.rows<{ n: string; mean_spread: number | null }>(
      'read the disagreement',
      disagreementInWindowSql(seconds, version),
    ),
  ]);
  const featureRows = fr.map((r) => ({ key: r.feature, bin: Number(r.bin), n: Number(r.n) }));
  const scoreRows = sr.map((r) => ({ key: r.model, bin: Number(r.bin), n: Number(r.n) }));
  const errors = new Map(er.map((r) => [r.model, r]));
  const inWindow = Number(dr[0]?.n ?? 0);
  const estimator = serving.byVersion(version)?.models.errorEstimator;
  const estimate = estimator
    ? await estimateErrors(storage, estimator, version, seconds, inWindow)
    : { events: 0, rmse: {} as Partial<Record<ScoreName, number>> };
  return {
    version,
    window_seconds: seconds,
    psi_alert: PSI_ALERT,
    features: Object.fromEntries(
      Object.keys(featureEdges)
        // The columns the models derive (genre, artist) are not stored on events.
        .filter((f) => (FEATURE_NAMES as readonly string[]).includes(f))
        .map((f) => [f, compare(featureRows, f, ref.features[f]!)]),
    ),
    models: Object.fromEntries(
      scoreNames.map((m) => {
        const e = errors.get(m);
        return [
          m,
          {
            ...compare(scoreRows, m, ref.scores[m]!),
            labelled: {
              n: Number(e?.n ?? 0),
              rmse: num(e?.rmse),
              mae: num(e?.mae),
              bias: num(e?.bias),
              // How many of them had their label from the labels stream, and how late it came.
              from_stream: Number(e?.from_stream ?? 0),
              mean_label_delay_s: e && Number(e.from_stream) > 0 ? num(e.mean_label_delay_s) : null,
            },
            // Before labels: the version's error estimator on the window's events.
            estimated_rmse: estimate.rmse[m] ?? null,
          },
        ];
      }),
    ) as Record<
      ScoreName,
      Comparison & {
        labelled: {
          n: number;
          rmse: number | null;
          mae: number | null;
          bias: number | null;
          from_stream: number;
          mean_label_delay_s: number | null;
        };
        estimated_rmse: number | null;
      }
    >,
    disagreement: { n: inWindow, mean_spread: num(dr[0]?.mean_spread) },
    estimate: { events_sampled: estimate.events, available: Boolean(estimator) },
  };
}
export type VersionQuality = Awaited<ReturnType<typeof measureVersion>>;
