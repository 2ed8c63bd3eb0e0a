/**
 * XGBoost's training half: real XGBoost (ml-xgboost, XGBoost compiled to WebAssembly) fits the
 * trees; the number kept is chosen on held-out tracks. models/xgboost loads what it saves.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  parseXgbModel,
  predictFirstTrees,
  rmseByTreeCount,
  xgbImportance,
} from '../../models/xgboost/binary-model.ts';
import { XGB_FILE, xgbScorer } from '../../models/xgboost/index.ts';
import { groupedSplit } from '../split.ts';
import type { ModelTrainer, TrainData } from '../trainer.ts';
import { trainXgboostBinary } from './wasm-trainer.ts';

export interface XgbParams {
  /** Trees; with `validation_fraction`, the most trees, of which the validation curve keeps the best prefix. */
  iterations: number;
  max_depth: number;
  eta: number;
  subsample: number;
  colsample_bytree: number;
  min_child_weight: number;
  lambda: number;
  tree_method?: 'exact' | 'hist';
  grow_policy?: 'depthwise' | 'lossguide';
  /** Leaves per tree with `grow_policy: 'lossguide'` (then `max_depth: 0`, no depth limit). */
  max_leaves?: number;
  /** Share of the rows' tracks held out to choose the number of trees (0 or absent: all `iterations`). */
  validation_fraction?: number;
}

/** The original project's hyperparameters. */
export const XGB_ORIGINAL: XgbParams = {
  iterations: 504,
  max_depth: 10,
  eta: 0.0925,
  subsample: 0.886,
  colsample_bytree: 0.907,
  min_child_weight: 1,
  lambda: 1,
};

/** The rows `idx` of a row-major matrix with `f` columns. */
function rowsOf(X: Float32Array, f: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * f);
  idx.forEach((i, k) => out.set(X.subarray(i * f, (i + 1) * f), k * f));
  return out;
}

/**
 * How many trees to keep: fits `iterations` trees on the rows of most tracks and returns the
 * prefix with the lowest RMSE on the held-out tracks (early stopping, measured after the fact:
 * ml-xgboost trains every tree in one call and evaluates nothing on the way).
 */
async function chooseTreeCount(
  data: TrainData,
  params: Record<string, string | number>,
  iterations: number,
  fraction: number,
) {
  const split = groupedSplit(data.groups!, data.seed + 1, fraction);
  const y = (idx: number[]) => Float32Array.from(idx, (i) => data.y[i]!);
  const probe = parseXgbModel(
    await trainXgboostBinary(rowsOf(data.X, data.f, split.train), y(split.train), data.f, params, iterations),
  );
  const Xval = rowsOf(data.X, data.f, split.test);
  const curve = rmseByTreeCount(probe, Xval, data.f, y(split.test));
  const best = curve.indexOf(Math.min(...curve));
  const validation = { rows: split.test, predictions: predictFirstTrees(probe, Xval, data.f, best + 1) };
  return { trees: best + 1, validationRows: split.test.length, validationRmse: curve[best]!, validation };
}

export function xgboostTrainer(params: XgbParams = XGB_ORIGINAL): ModelTrainer {
  return {
    name: 'xgb',
    async train(data, progress) {
      const { iterations, validation_fraction: fraction = 0, ...booster } = params;
      const boosterParams = {
        booster: 'gbtree',
        objective: 'reg:linear',
        silent: 1,
        seed: data.seed,
        ...booster,
      };
      const shape =
        booster.grow_policy === 'lossguide' ? `${booster.max_leaves} leaves` : `depth ${params.max_depth}`;
      let trees = iterations;
      let chosen: Awaited<ReturnType<typeof chooseTreeCount>> | undefined;
      if (fraction > 0 && data.groups) {
        // One wasm call trains every tree: XGBoost's C++ loop reports no progress to JavaScript.
        progress(
          0,
          `up to ${iterations} trees (${shape}) on ${Math.round((1 - fraction) * 100)}% of the tracks, to choose how many`,
        );
        chosen = await chooseTreeCount(data, boosterParams, iterations, fraction);
        trees = chosen.trees;
        progress(
          0.5,
          `${trees} trees kept (validation RMSE ${chosen.validationRmse.toFixed(3)} on ${chosen.validationRows} rows); fitting them on all rows`,
        );
      } else progress(0, `${iterations} trees, ${shape}, in one WebAssembly call (no per-tree progress)`);
      const bytes = await trainXgboostBinary(data.X, data.y, data.f, boosterParams, trees);
      const model = parseXgbModel(bytes);
      progress(1, `${trees} trees trained`);
      const settled: XgbParams = { ...params, iterations: trees, validation_fraction: 0 };
      return {
        scorer: xgbScorer(model, data.f),
        importance: xgbImportance(model, data.f),
        hyperparameters: {
          ...settled,
          ...(chosen
            ? {
                trees_chosen_on: {
                  validation_rows: chosen.validationRows,
                  rmse: chosen.validationRmse,
                  most: iterations,
                },
              }
            : {}),
          objective: 'reg:linear',
          library: 'ml-xgboost 1.1.2 (XGBoost in WebAssembly)',
        },
        refitKind: xgboostTrainer(settled),
        ...(chosen ? { validation: chosen.validation } : {}),
        async save(dir) {
          await writeFile(join(dir, XGB_FILE), gzipSync(bytes, { level: 9 }));
          return [XGB_FILE];
        },
      };
    },
  };
}
