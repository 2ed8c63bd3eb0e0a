/**
 * The one way the rest of hitstream uses the models: `loadModels()` once, then `predictBatch(rows)`
 * for four scores per row (clipped to 0..100), TabNet's feature mask, and per-model timings.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HitstreamError } from '../lib/errors.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/prediction.ts';
import { FEATURE_NAMES } from '../schemas/track-features.ts';
import { type FeatureRow, toMatrix } from './features.ts';
import { kindFor } from './kinds.ts';
import type { ModelManifest } from './manifest.ts';
import type { LoadOptions, Scorer } from './model.ts';
import type { TabNetScorer } from './tabnet/index.ts';

export const ARTIFACTS_DIR = fileURLToPath(new URL('./artifacts/', import.meta.url));

export interface BatchPrediction {
  scores: Record<ModelName, Float32Array>;
  /** TabNet aggregate masks, row-major n × features (each row sums to 1). */
  tabnetMasks: Float32Array;
  /** Model time per row in this batch, microseconds. */
  inferenceUs: Record<ModelName, number>;
}

export interface LoadedModels {
  manifests: Record<ModelName, ModelManifest>;
  features: string[];
  predictBatch(rows: readonly FeatureRow[]): Promise<BatchPrediction>;
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
  const loadOne = async (name: ModelName) => {
    const mdir = join(dir, name);
    let manifest: ModelManifest;
    try {
      manifest = JSON.parse(await readFile(join(mdir, 'manifest.json'), 'utf8')) as ModelManifest;
    } catch (err) {
      throw new HitstreamError(
        'MODEL_MISSING',
        `no trained ${name} model in ${mdir}: run \`npx hitstream train --data PATH\``,
        { cause: err },
      );
    }
    manifests[name] = manifest;
    scorers[name] = await kindFor(name, 'grouped').load(mdir, manifest.preprocessing, options);
  };
  if (options.oneAtATime)
    for (const name of MODEL_NAMES) {
      await loadOne(name);
      await new Promise<void>((r) => setImmediate(r)); // let waiting batches be scored
    }
  else await Promise.all(MODEL_NAMES.map(loadOne));
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
        scores: Object.fromEntries(MODEL_NAMES.map((m) => [m, new Float32Array(0)])) as Record<
          ModelName,
          Float32Array
        >,
        tabnetMasks: new Float32Array(0),
        inferenceUs: Object.fromEntries(MODEL_NAMES.map((m) => [m, 0])) as Record<ModelName, number>,
      };
    const X = toMatrix(rows, pre);
    const scores = {} as Record<ModelName, Float32Array>;
    const inferenceUs = {} as Record<ModelName, number>;
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
    return { scores, tabnetMasks, inferenceUs };
  };
  return {
    manifests,
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
      }
    },
  };
}
