/**
 * One row's explanations as the API answers them (POST /explain) and `hitstream explain --json`
 * prints them: every score with its base, output and one contribution per model feature, named.
 */
import { ARTIST_FEATURES, type FeatureRow, GENRE_FEATURES, toMatrix } from '../models/features.ts';
import { HitstreamError } from '../lib/errors.ts';
import type { LoadedModels } from '../models/model-set.ts';
import type { ExplainResponse, FEATURE_KINDS, ScoreExplanation } from '../schemas/api.ts';

type FeatureKind = (typeof FEATURE_KINDS)[number];

export const featureKind = (feature: string): FeatureKind =>
  (GENRE_FEATURES as readonly string[]).includes(feature)
    ? 'genre'
    : (ARTIST_FEATURES as readonly string[]).includes(feature)
      ? 'artist'
      : 'audio';

/** Explains `rows` with `models`; one API answer per row (without `version`, which the caller knows). */
export async function explainRows(
  models: LoadedModels,
  rows: readonly FeatureRow[],
  /** How an error names the set ("version …"). */
  setName = 'the model set',
): Promise<Omit<ExplainResponse, 'version'>[]> {
  const t0 = performance.now();
  const { prediction, explanations } = await models.explain(rows).catch((err: unknown) => {
    // "it was trained before explanations" → which set it is.
    if (err instanceof HitstreamError && err.code === 'explain_unavailable')
      throw new HitstreamError(err.code, `${setName}: ${err.message}`, {
        status: err.status,
        cause: err,
        explainsCause: true,
      });
    throw err;
  });
  const explainMs = (performance.now() - t0) / Math.max(1, rows.length);
  const features = models.features;
  const X = toMatrix(rows, models.manifests.rf.preprocessing);
  const f = features.length;
  return explanations.map((row, i) => {
    const scores = {} as Record<string, ScoreExplanation>;
    for (const name of prediction.names) {
      const e = row[name]!;
      const score = prediction.scores[name]![i]!;
      scores[name] = {
        score: Math.round(score * 100) / 100,
        base: e.base,
        output: e.output,
        // The served score is clipped to 0..100 (an ensemble's members are too, before weighting).
        clipped: Math.abs(score - e.output) > 1e-3,
        method: e.method,
        contributions: Object.fromEntries(features.map((feat, j) => [feat, e.contributions[j]!])),
      };
    }
    return {
      explanations: scores as ExplainResponse['explanations'],
      // The matrix is float32: 7 significant digits give back 0.8, not 0.800000011920929.
      inputs: Object.fromEntries(features.map((feat, j) => [feat, Number(X[i * f + j]!.toPrecision(7))])),
      feature_kinds: Object.fromEntries(features.map((feat) => [feat, featureKind(feat)])),
      model_versions: Object.fromEntries(
        prediction.names.map((m) => [m, models.versions[m]!]),
      ) as ExplainResponse['model_versions'],
      explain_ms: Math.round(explainMs * 10) / 10,
    };
  });
}
