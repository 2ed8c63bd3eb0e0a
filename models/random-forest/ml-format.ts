/** ml-random-forest's saved-model JSON, so its own predictor can score the trees hitstream grows. */
import type { CompactTree, ForestOptions } from './tree.ts';
import { toMlCartTree } from './compact-format.ts';

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
