/**
 * Explains every score of a model set for a batch of rows: exact Tree SHAP for the Random Forest
 * and XGBoost (tree-shap.ts), permutation sampling for the MLP and TabNet (sampling-shap.ts), and
 * the ensemble as the weighted sum of its members' values (Shapley values are linear in the game,
 * so the weighted sum is the ensemble's own, as exact as its members').
 */
import { HitstreamError } from '../../lib/errors.ts';
import { MODEL_NAMES, type ModelName, type ScoreName } from '../../schemas/prediction.ts';
import type { EnsembleWeights } from '../ensemble.ts';
import type { Scorer } from '../model.ts';
import { EXPLANATIONS_FILE, type ExplanationsFile } from './explanations-file.ts';
import { samplingPlan, samplingRows, samplingValues } from './sampling-shap.ts';
import { expectedValue, type ShapTrees, treeShapExplainer } from './tree-shap.ts';

export type ExplainMethod = 'tree-shap' | 'permutation-shap' | 'weighted-sum';

export interface Explanation {
  /**
   * The expected output: the trees' cover-weighted mean leaf (their training rows), the networks'
   * mean on the background sample, the ensemble's weighted sum of those.
   */
  base: number;
  /** One per model feature, in the set's feature order. */
  contributions: number[];
  /** base + Σ contributions: the model's output for the row before the served score's 0..100 clip. */
  output: number;
  method: ExplainMethod;
}

export type RowExplanations = Partial<Record<ScoreName, Explanation>>;

/**
 * Nodes explained between two yields to the event loop (~2 ms here). A worker explains between
 * live batches: 150,000 (~10 ms) slices raised its p99 event → prediction latency at 1,000
 * events/s from 20 to 72 ms with 1% sampled (bench pipeline, same run).
 */
const NODES_PER_SLICE = 30_000;
/** Rows whose network chains are built at once (16 × 736 rows)… */
const NETWORK_ROWS_PER_CALL = 16;
/** …and scored at most this many chain rows a call, yielding in between (TabNet: ~2 ms). */
const NETWORK_ROWS_PER_PREDICT = 256;

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

/** What runs between two slices of an explanation: a yield to the event loop, or a caller's pause. */
export type BetweenSlices = () => Promise<void>;

function treeModel(trees: ShapTrees, f: number) {
  const explain = treeShapExplainer(trees, f);
  const base = expectedValue(trees);
  const nTrees = trees.roots.length;
  const slices = Math.max(1, Math.ceil(trees.left.length / NODES_PER_SLICE));
  const perSlice = Math.ceil(nTrees / slices);
  return async (X: Float32Array, between: BetweenSlices): Promise<Explanation[]> => {
    const out: Explanation[] = [];
    for (let o = 0; o < X.length; o += f) {
      const phi = new Float64Array(f);
      const x = X.subarray(o, o + f);
      for (let from = 0; from < nTrees; from += perSlice) {
        explain(x, phi, from, Math.min(nTrees, from + perSlice));
        if (slices > 1) await between();
      }
      out.push(finish(base, phi, 'tree-shap'));
    }
    return out;
  };
}

function networkModel(scorer: Scorer, background: Float32Array, f: number) {
  const plan = samplingPlan(background, f);
  return async (X: Float32Array, between: BetweenSlices): Promise<Explanation[]> => {
    const out: Explanation[] = [];
    for (let o = 0; o < X.length; o += NETWORK_ROWS_PER_CALL * f) {
      const part = X.subarray(o, Math.min(X.length, o + NETWORK_ROWS_PER_CALL * f));
      const chains = samplingRows(plan, part);
      const scores = new Float32Array(chains.length / f);
      for (let r = 0; r < scores.length; r += NETWORK_ROWS_PER_PREDICT) {
        const end = Math.min(scores.length, r + NETWORK_ROWS_PER_PREDICT);
        scores.set(await scorer.predict(chains.subarray(r * f, end * f)), r);
        await between();
      }
      for (const v of samplingValues(plan, scores, part.length / f))
        out.push(finish(v.base, v.phi, 'permutation-shap'));
    }
    return out;
  };
}

const finish = (base: number, phi: Float64Array, method: ExplainMethod): Explanation => ({
  base,
  contributions: Array.from(phi),
  output: phi.reduce((s, v) => s + v, base),
  method,
});

function weightedSum(members: [ModelName, number][], explained: Record<ModelName, Explanation>): Explanation {
  const f = explained[members[0]![0]].contributions.length;
  const contributions = new Array<number>(f).fill(0);
  let base = 0;
  for (const [m, w] of members) {
    base += w * explained[m].base;
    explained[m].contributions.forEach((v, j) => (contributions[j]! += w * v));
  }
  return { base, contributions, output: contributions.reduce((s, v) => s + v, base), method: 'weighted-sum' };
}

export interface SetExplainerParts {
  scorers: Record<ModelName, Scorer>;
  weights?: EnsembleWeights;
  features: readonly string[];
  /** The set's explanations.json (its own run's), when it has one. */
  file?: ExplanationsFile;
  /** The set's folder, for messages. */
  dir: string;
}

/**
 * Returns `explain(X)` (row-major n × f, the model features as scored): per row, each score's
 * explanation. Built on the first call; calls run one at a time (the tree explainers keep a row's
 * state while they yield between slices of trees).
 */
type ModelExplainer = (X: Float32Array, between: BetweenSlices) => Promise<Explanation[]>;

export function createSetExplainer(
  parts: SetExplainerParts,
): (X: Float32Array, between?: BetweenSlices) => Promise<RowExplanations[]> {
  const f = parts.features.length;
  let models: Promise<Record<ModelName, ModelExplainer>> | undefined;
  const build = async () => {
    const file = parts.file;
    const built = {} as Record<ModelName, ModelExplainer>;
    for (const name of MODEL_NAMES) {
      const scorer = parts.scorers[name];
      if (scorer.shapTrees) built[name] = treeModel(await scorer.shapTrees(), f);
      else if (file) built[name] = networkModel(scorer, Float32Array.from(file.background.flat()), f);
      else
        throw new HitstreamError(
          'explain_unavailable',
          `it was trained before explanations (no ${EXPLANATIONS_FILE} of its run, so ${name} has no background rows to be explained against): train again, or push and promote a version trained since`,
          { status: 409 },
        );
    }
    return built;
  };
  let queue: Promise<unknown> = Promise.resolve();
  return (X, between = yieldToLoop) => {
    const run = async () => {
      models ??= build().catch((err: unknown) => {
        models = undefined;
        throw err;
      });
      const byModel = await models;
      const explained = {} as Record<ModelName, Explanation[]>;
      for (const name of MODEL_NAMES) explained[name] = await byModel[name](X, between);
      const members = Object.entries(parts.weights ?? {}) as [ModelName, number][];
      return explained.rf.map((_, i) => {
        const row = Object.fromEntries(MODEL_NAMES.map((m) => [m, explained[m][i]!])) as Record<
          ModelName,
          Explanation
        >;
        return members.length ? { ...row, ensemble: weightedSum(members, row) } : row;
      });
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  };
}
