/**
 * Random Forest's training half: the histogram trainer grows the trees, training evaluates them
 * with ml-random-forest's predictor, and they are saved in the compact format that
 * models/random-forest loads.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeForest } from '../../models/random-forest/compact-format.ts';
import { encodeCovers, FOREST_COVERS_FILE } from '../../models/random-forest/covers.ts';
import {
  FOREST_FILE,
  FOREST_OPTIONS_FILE,
  loadMlForest,
  mlForestScorer,
} from '../../models/random-forest/index.ts';
import { toMlRandomForestJson } from '../../models/random-forest/ml-format.ts';
import type { ForestOptions } from '../../models/random-forest/tree.ts';
import type { ModelTrainer, TrainData } from '../trainer.ts';
import { trainForest } from './histogram-trainer.ts';

export const RF_DEFAULTS: Omit<ForestOptions, 'seed'> = {
  nTrees: 100,
  minSamplesLeaf: 1,
  maxFeatures: 0.5,
  maxDepth: 60,
  maxBins: 255,
};

export function randomForestTrainer(overrides: Partial<ForestOptions> = {}): ModelTrainer {
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
      const ml = loadMlForest(toMlRandomForestJson(forest.trees, data.f, opts));
      return Promise.resolve({
        scorer: mlForestScorer(ml, data.f),
        importance: forest.importance,
        hyperparameters: {
          ...opts,
          trainer: 'histogram (hitstream)',
          nodes: forest.trees.reduce((n, t) => n + t.feature.length, 0),
        },
        async save(dir: string) {
          await writeFile(join(dir, FOREST_FILE), encodeForest(forest.trees));
          await writeFile(join(dir, FOREST_COVERS_FILE), encodeCovers(forest.trees));
          await writeFile(join(dir, FOREST_OPTIONS_FILE), JSON.stringify(opts, null, 2));
          return [FOREST_FILE, FOREST_COVERS_FILE, FOREST_OPTIONS_FILE];
        },
      });
    },
  };
}
