/**
 * XGBoost: trained by real XGBoost (ml-xgboost, XGBoost compiled to WebAssembly), scored in batches
 * by walking its trees from the saved binary model (binary-model.ts), which matches ml-xgboost's
 * per-row `predict` to float precision and avoids a wasm call and a malloc per row.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import type { ModelKind, Scorer } from '../model.ts';
import { parseXgbModel, predictXgb, xgbImportance, type XgbTrees } from './binary-model.ts';
import { trainXgboostBinary } from './wasm-trainer.ts';

const gunzipAsync = promisify(gunzip);

export interface XgbParams {
  iterations: number;
  max_depth: number;
  eta: number;
  subsample: number;
  colsample_bytree: number;
  min_child_weight: number;
  lambda: number;
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

const scorer = (m: XgbTrees, f: number): Scorer => ({
  name: 'xgb',
  predict: (X) => Promise.resolve(predictXgb(m, X, f)),
});

export function xgboostKind(params: XgbParams = XGB_ORIGINAL): ModelKind {
  return {
    name: 'xgb',
    async train(data, progress) {
      const { iterations, ...booster } = params;
      // One wasm call trains every tree: XGBoost's C++ loop reports no progress to JavaScript.
      progress(
        0,
        `${iterations} trees, depth ${params.max_depth}, in one WebAssembly call (no per-tree progress)`,
      );
      const bytes = await trainXgboostBinary(
        data.X,
        data.y,
        data.f,
        { booster: 'gbtree', objective: 'reg:linear', silent: 1, seed: data.seed, ...booster },
        iterations,
      );
      const trees = parseXgbModel(bytes);
      progress(1, `${params.iterations} trees trained`);
      return {
        scorer: scorer(trees, data.f),
        importance: xgbImportance(trees, data.f),
        hyperparameters: {
          ...params,
          objective: 'reg:linear',
          library: 'ml-xgboost 1.1.2 (XGBoost in WebAssembly)',
        },
        async save(dir) {
          await writeFile(join(dir, 'xgboost.model.gz'), gzipSync(bytes, { level: 9 }));
          return ['xgboost.model.gz'];
        },
      };
    },
    async load(dir, preprocessing) {
      // Decompressed in zlib's thread pool: a hot swap loads this while the worker scores.
      const bytes = await gunzipAsync(await readFile(join(dir, 'xgboost.model.gz')));
      return scorer(parseXgbModel(bytes), preprocessing.features.length);
    },
  };
}
