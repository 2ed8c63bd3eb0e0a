/**
 * The one way the rest of hitstream uses the models: `loadModels()` once, then `predictBatch(rows)`
 * for four scores per row (clipped to 0..100), a fifth when the set ships an ensemble, TabNet's
 * feature mask, and per-model timings.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ErrorEstimator, readErrorEstimate } from './error-estimate.ts';
import { HitstreamError } from '../lib/errors.ts';
import { MODEL_NAMES, type ModelName, type ScoreName } from '../schemas/prediction.ts';
import { FEATURE_NAMES } from '../schemas/track-features.ts';
import {
  ENSEMBLE_FILE,
  type EnsembleManifest,
  ensembleScores,
  ensembleVersionFor,
  readEnsemble,
  scoreNamesFor,
} from './ensemble.ts';
import { type FeatureRow, toMatrix } from './features.ts';
import {
  explanationsVersionFor,
  type ExplanationsFile,
  readExplanations,
} from './explain/explanations-file.ts';
import type { ShapTrees } from './explain/tree-shap.ts';
import { type BetweenSlices, createSetExplainer, type RowExplanations } from './explain/set-explainer.ts';
import { LOADERS } from './kinds.ts';
import { contextReader } from './context.ts';
import { type ModelManifest, readManifest } from './manifest.ts';
import type { LoadOptions, Scorer } from './model.ts';
import type { TabNetScorer } from './tabnet/index.ts';

export const ARTIFACTS_DIR = fileURLToPath(new URL('./artifacts/', import.meta.url));

/** The scores a model folder publishes, without loading it: the four, and `ensemble` when it has one. */
export const scoreNamesOf = (dir = ARTIFACTS_DIR): readonly ScoreName[] =>
  scoreNamesFor(existsSync(join(dir, ENSEMBLE_FILE)));

/** One value per score a set publishes: the four models', and the ensemble's when it has one. */
export type PerScore<T> = Record<ModelName, T> & { ensemble?: T };

export interface BatchPrediction {
  /** The scores this prediction holds, in publishing order. */
  names: readonly ScoreName[];
  scores: PerScore<Float32Array>;
  /** TabNet aggregate masks, row-major n × features (each row sums to 1). */
  tabnetMasks: Float32Array;
  /** Model time per row in this batch, microseconds (the ensemble's includes its members'). */
  inferenceUs: PerScore<number>;
}

export interface LoadedModels {
  manifests: Record<ModelName, ModelManifest>;
  /** ensemble.json of the set, when training found it beats the best single model. */
  ensemble?: EnsembleManifest;
  /** error-estimate.json of the set: each score's error before labels (models/error-estimate.ts). */
  errorEstimator?: ErrorEstimator;
  /** The scores every prediction of this set holds: the four, then `ensemble` if it has one. */
  scoreNames: readonly ScoreName[];
  /** Each score's version (the manifests' and the ensemble's). */
  versions: PerScore<string>;
  features: string[];
  predictBatch(rows: readonly FeatureRow[]): Promise<BatchPrediction>;
  /** Each row's scores and, for every score, its SHAP values (models/explain/). */
  explain(
    rows: readonly FeatureRow[],
    /** Runs between slices of the work (~2 ms each): by default a yield to the event loop. */
    between?: BetweenSlices,
  ): Promise<{ prediction: BatchPrediction; explanations: RowExplanations[] }>;
  /** A tree model's trees as Tree SHAP reads them (undefined for the networks). */
  shapTrees(name: ModelName): Promise<ShapTrees> | undefined;
  /** explanations.json of the set (its run's), when it has one: the attribution reference. */
  explanationsFile?: ExplanationsFile;
  /**
   * Scores synthetic batches for about `seconds` (1), so the first real request does not pay for
   * JIT and wasm set-up. A process that already scores with models of the same kinds needs a few
   * batches only (`seconds: 0`): the scoring code is optimised already.
   */
  warmUp(opts?: { seconds?: number }): Promise<void>;
  loadSeconds: number;
}

const clip = (a: Float32Array): Float32Array =>
  a.map((v) => (Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 0));

/**
 * Loads the four models of `dir`. `oneAtATime` loads them one after another, yielding between
 * them: each load is ~100 ms of synchronous work (inflating and parsing), and a process that
 * scores live events meanwhile (a hot swap) should not be blocked for all four at once.
 */
export async function loadModels(
  dir = ARTIFACTS_DIR,
  options: LoadOptions & { oneAtATime?: boolean } = {},
): Promise<LoadedModels> {
  const t0 = performance.now();
  const manifests = {} as Record<ModelName, ModelManifest>;
  const scorers = {} as Record<ModelName, Scorer>;
  const context = contextReader(dir);
  const loadOne = async (name: ModelName) => {
    const mdir = join(dir, name);
    const manifest = await readManifest(dir, name, context);
    manifests[name] = manifest;
    scorers[name] = await LOADERS[name].load(mdir, manifest.preprocessing, options);
  };
  if (options.oneAtATime)
    for (const name of MODEL_NAMES) {
      await loadOne(name);
      await new Promise<void>((r) => setImmediate(r)); // let waiting batches be scored
    }
  else await Promise.all(MODEL_NAMES.map(loadOne));
  const ensemble = await readEnsemble(dir);
  // An ensemble's weights belong to the fits of its run: one left from another run is refused.
  const runId = manifests.rf.version.replace(/^rf-/, '');
  if (ensemble && ensemble.version !== ensembleVersionFor(runId))
    throw new HitstreamError(
      'MODEL_MISMATCH',
      `${join(dir, ENSEMBLE_FILE)} is ${ensemble.version}, of another training run than the models (${runId}): train again, or delete it to score with the four`,
    );
  // The estimator judges the fits of its own run; another run's is left out (there is no estimate then).
  const estimator = await readErrorEstimate(dir).catch(() => undefined);
  const errorEstimator = estimator?.version === `error-estimate-${runId}` ? estimator : undefined;
  const explanationsFile = await readExplanations(dir);
  const ownExplanations =
    explanationsFile?.version === explanationsVersionFor(runId) ? explanationsFile : undefined;
  const scoreNames = scoreNamesFor(ensemble !== undefined);
  const versions: PerScore<string> = {
    ...(Object.fromEntries(MODEL_NAMES.map((m) => [m, manifests[m].version])) as Record<ModelName, string>),
    ...(ensemble ? { ensemble: ensemble.version } : {}),
  };
  const pre = manifests.rf.preprocessing;
  for (const name of MODEL_NAMES)
    if (JSON.stringify(manifests[name].features) !== JSON.stringify(pre.features))
      throw new HitstreamError(
        'MODEL_MISMATCH',
        `${name} was trained on other features than rf: retrain all four together`,
      );
  const predictBatch = async (rows: readonly FeatureRow[]): Promise<BatchPrediction> => {
    // A batch can hold only invalid events; some predictors throw on zero rows.
    if (rows.length === 0)
      return {
        names: scoreNames,
        scores: Object.fromEntries(scoreNames.map((m) => [m, new Float32Array(0)])) as PerScore<Float32Array>,
        tabnetMasks: new Float32Array(0),
        inferenceUs: Object.fromEntries(scoreNames.map((m) => [m, 0])) as PerScore<number>,
      };
    const X = toMatrix(rows, pre);
    const scores = {} as PerScore<Float32Array>;
    const inferenceUs = {} as PerScore<number>;
    let tabnetMasks: Float32Array = new Float32Array(0);
    for (const name of MODEL_NAMES) {
      const t = performance.now();
      if (name === 'tabnet') {
        const r = await (scorers.tabnet as TabNetScorer).explain(X);
        scores.tabnet = clip(r.scores);
        tabnetMasks = r.masks;
      } else scores[name] = clip(await scorers[name].predict(X));
      inferenceUs[name] = ((performance.now() - t) * 1000) / Math.max(1, rows.length);
    }
    if (ensemble) {
      const t = performance.now();
      scores.ensemble = ensembleScores(scores, ensemble.weights);
      // What an ensemble score costs: its members' time and the weighting.
      const members = Object.keys(ensemble.weights) as ModelName[];
      inferenceUs.ensemble =
        members.reduce((sum, m) => sum + inferenceUs[m], 0) +
        ((performance.now() - t) * 1000) / Math.max(1, rows.length);
    }
    return { names: scoreNames, scores, tabnetMasks, inferenceUs };
  };
  const explainMatrix = createSetExplainer({
    scorers,
    ...(ensemble ? { weights: ensemble.weights } : {}),
    features: pre.features,
    ...(ownExplanations ? { file: ownExplanations } : {}),
    dir,
  });
  return {
    manifests,
    ...(ensemble ? { ensemble } : {}),
    ...(ownExplanations ? { explanationsFile: ownExplanations } : {}),
    shapTrees: (name) => scorers[name].shapTrees?.(),
    async explain(rows, between) {
      const prediction = await predictBatch(rows);
      const explanations = rows.length ? await explainMatrix(toMatrix(rows, pre), between) : [];
      return { prediction, explanations };
    },
    ...(errorEstimator ? { errorEstimator } : {}),
    scoreNames,
    versions,
    features: [...pre.features],
    loadSeconds: (performance.now() - t0) / 1000,
    predictBatch,
    async warmUp(opts = {}) {
      // Plausible rows (training mean ± 1 sd, so the trees take many paths), scored in batch
      // sizes the workers see, for about a second: V8 optimises the scoring code before the first
      // real events arrive (bench feed: p99 in the first seconds was several times the steady one).
      const genres = Object.keys(pre.genre.means);
      const rowAt = (i: number) =>
        ({
          ...Object.fromEntries(
            FEATURE_NAMES.map((f, j) => [
              f,
              f === 'explicit' ? i % 7 === 0 : pre.mean[j]! + pre.std[j]! * Math.sin(i * 1.7 + j),
            ]),
          ),
          track_genre: genres[i % Math.max(1, genres.length)],
        }) as unknown as FeatureRow;
      const until = performance.now() + (opts.seconds ?? 1) * 1000;
      for (let i = 0; performance.now() < until || i < 8; i++) {
        const n = [1, 8, 25, 64, 256][i % 5]!;
        await predictBatch(Array.from({ length: n }, (_, k) => rowAt(i * 256 + k)));
        // A macrotask between batches: during a hot swap, live batches are scored in between
        // (awaiting resolved promises alone held the event loop for all eight, ~45 ms).
        await new Promise<void>((r) => setImmediate(r));
      }
    },
  };
}
