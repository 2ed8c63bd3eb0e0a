/**
 * Random Forest: trained by the histogram trainer (seconds, not hours, on 100k rows), stored
 * compactly, and loadable into ml-random-forest's RandomForestRegression. Training evaluates it
 * with ml-random-forest's predictor; serving scores the same trees from typed arrays by default
 * (`compact-scorer.ts` says why), or through ml-random-forest with `rfPredictor: 'ml-random-forest'`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RandomForestRegression } from 'ml-random-forest';
import type { LoadOptions, ModelKind, Scorer, TrainData } from '../model.ts';
import { decodeForest, encodeForest, toMlCartTree } from './compact-format.ts';
import { predictCompactForest } from './compact-scorer.ts';
import { type CompactTree, type ForestOptions, trainForest } from './histogram-trainer.ts';

export const RF_DEFAULTS: Omit<ForestOptions, 'seed'> = {
  nTrees: 100,
  minSamplesLeaf: 1,
  maxFeatures: 0.5,
  maxDepth: 60,
  maxBins: 255,
};

/** ml-random-forest's saved-model JSON for a forest whose trees all see every feature. */
export function toMlRandomForestJson(
  trees: readonly CompactTree[],
  f: number,
  opts: Omit<ForestOptions, 'seed'> & { seed: number },
) {
  const treeOptions = {
    gainFunction: 'regression',
    splitFunction: 'mean',
    minNumSamples: opts.minSamplesLeaf,
    maxDepth: opts.maxDepth,
    kind: 'regression',
  };
  const all = Array.from({ length: f }, (_, j) => j);
  return {
    name: 'RFRegression',
    selectionMethod: 'mean',
    baseModel: {
      indexes: trees.map(() => all),
      n: f,
      replacement: true,
      maxFeatures: opts.maxFeatures,
      nEstimators: trees.length,
      treeOptions,
      isClassifier: false,
      seed: opts.seed,
      useSampleBagging: true,
      estimators: trees.map((t) => ({ name: 'DTRegression', options: treeOptions, root: toMlCartTree(t) })),
    },
  };
}

// ml-random-forest's bundled types misspell a field of the saved model ("selectionMethos").
const loadForest = (json: ReturnType<typeof toMlRandomForestJson>) =>
  RandomForestRegression.load(json as unknown as Parameters<typeof RandomForestRegression.load>[0]);

function scorerFrom(forest: RandomForestRegression, f: number): Scorer {
  return {
    name: 'rf',
    predict(X: Float32Array) {
      const rows: number[][] = [];
      for (let o = 0; o < X.length; o += f) rows.push(Array.from(X.subarray(o, o + f)));
      return Promise.resolve(Float32Array.from(forest.predict(rows)));
    },
  };
}

export function randomForestKind(overrides: Partial<ForestOptions> = {}): ModelKind {
  return {
    name: 'rf',
    train(data: TrainData, progress) {
      const opts = { ...RF_DEFAULTS, seed: data.seed, ...overrides };
      const t0 = performance.now();
      const forest = trainForest(data.X, data.y, data.f, opts, (done, tree) => {
        const s = (performance.now() - t0) / 1000;
        progress(
          done / opts.nTrees,
          `tree ${done}/${opts.nTrees}, ${tree.feature.length} nodes, ETA ${((s / done) * (opts.nTrees - done)).toFixed(0)} s`,
        );
      });
      const ml = loadForest(toMlRandomForestJson(forest.trees, data.f, opts));
      return Promise.resolve({
        scorer: scorerFrom(ml, data.f),
        importance: forest.importance,
        hyperparameters: {
          ...opts,
          trainer: 'histogram (hitstream)',
          nodes: forest.trees.reduce((n, t) => n + t.feature.length, 0),
        },
        async save(dir: string) {
          await writeFile(join(dir, 'forest.bin.gz'), encodeForest(forest.trees));
          await writeFile(join(dir, 'forest-options.json'), JSON.stringify(opts, null, 2));
          return ['forest.bin.gz', 'forest-options.json'];
        },
      });
    },
    async load(dir, preprocessing, options: LoadOptions = {}) {
      const trees = await decodeForest(await readFile(join(dir, 'forest.bin.gz')));
      const opts = JSON.parse(await readFile(join(dir, 'forest-options.json'), 'utf8')) as ForestOptions;
      const f = preprocessing.features.length;
      if (options.rfPredictor === 'ml-random-forest')
        return scorerFrom(loadForest(toMlRandomForestJson(trees, f, opts)), f);
      return { name: 'rf', predict: (X) => Promise.resolve(predictCompactForest(trees, X, f)) };
    },
  };
}
