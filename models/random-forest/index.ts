/**
 * Random Forest as served: trained by training/random-forest (seconds, not hours, on 100k rows),
 * stored compactly, and loadable into ml-random-forest's RandomForestRegression. Serving scores
 * the trees from typed arrays by default (`compact-scorer.ts` says why), or through
 * ml-random-forest with `rfPredictor: 'ml-random-forest'`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RandomForestRegression } from 'ml-random-forest';
import { HitstreamError } from '../../lib/errors.ts';
import { once } from '../../lib/once.ts';
import type { LoadOptions, ModelLoader, Scorer } from '../model.ts';
import { decodeForest } from './compact-format.ts';
import { predictCompactForest } from './compact-scorer.ts';
import { decodeCovers, FOREST_COVERS_FILE } from './covers.ts';
import { forestShapTrees } from './shap-trees.ts';
import { toMlRandomForestJson } from './ml-format.ts';
import type { ForestOptions } from './tree.ts';

export const FOREST_FILE = 'forest.bin.gz';
export const FOREST_OPTIONS_FILE = 'forest-options.json';

// ml-random-forest's bundled types misspell a field of the saved model ("selectionMethos").
export const loadMlForest = (json: ReturnType<typeof toMlRandomForestJson>) =>
  RandomForestRegression.load(json as unknown as Parameters<typeof RandomForestRegression.load>[0]);

/** A scorer through ml-random-forest's own predictor. */
export function mlForestScorer(forest: RandomForestRegression, f: number): Scorer {
  return {
    name: 'rf',
    predict(X: Float32Array) {
      const rows: number[][] = [];
      for (let o = 0; o < X.length; o += f) rows.push(Array.from(X.subarray(o, o + f)));
      return Promise.resolve(Float32Array.from(forest.predict(rows)));
    },
  };
}

export const randomForestLoader: ModelLoader = {
  name: 'rf',
  async load(dir, preprocessing, options: LoadOptions = {}) {
    const trees = options.decoded?.rf ?? (await decodeForest(await readFile(join(dir, FOREST_FILE))));
    const opts = JSON.parse(await readFile(join(dir, FOREST_OPTIONS_FILE), 'utf8')) as ForestOptions;
    const f = preprocessing.features.length;
    if (options.rfPredictor === 'ml-random-forest')
      return mlForestScorer(loadMlForest(toMlRandomForestJson(trees, f, opts)), f);
    return {
      name: 'rf',
      predict: (X) => Promise.resolve(predictCompactForest(trees, X, f)),
      shapTrees: once(async () => {
        const gz = await readFile(join(dir, FOREST_COVERS_FILE)).catch((err: unknown) => {
          throw new HitstreamError(
            'explain_unavailable',
            `its forest was trained before explanations (it has no ${FOREST_COVERS_FILE}): train again, or push and promote a version trained since`,
            { cause: err, status: 409, explainsCause: true },
          );
        });
        return forestShapTrees(trees, await decodeCovers(gz, trees));
      }),
    };
  },
};
