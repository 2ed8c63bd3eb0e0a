/**
 * XGBoost as served: trained by real XGBoost (training/xgboost, XGBoost compiled to WebAssembly),
 * scored in batches by walking its trees from the saved binary model (binary-model.ts), which
 * matches ml-xgboost's per-row `predict` to float precision and avoids a wasm call and a malloc
 * per row.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { ModelLoader, Scorer } from '../model.ts';
import { xgbShapTrees } from './shap-trees.ts';
import { parseXgbModel, predictXgb, type XgbTrees } from './binary-model.ts';

const gunzipAsync = promisify(gunzip);

export const XGB_FILE = 'xgboost.model.gz';

export const xgbScorer = (m: XgbTrees, f: number): Scorer => ({
  name: 'xgb',
  predict: (X) => Promise.resolve(predictXgb(m, X, f)),
  shapTrees: () => Promise.resolve(xgbShapTrees(m)),
});

export const xgboostLoader: ModelLoader = {
  name: 'xgb',
  async load(dir, preprocessing, options = {}) {
    if (options.decoded) return xgbScorer(options.decoded.xgb, preprocessing.features.length);
    // Decompressed in zlib's thread pool: a hot swap loads this while the worker scores.
    const bytes = await gunzipAsync(await readFile(join(dir, XGB_FILE)));
    return xgbScorer(parseXgbModel(bytes), preprocessing.features.length);
  },
};
