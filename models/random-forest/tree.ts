/** The forest as stored and scored: trees in preorder, and the options they were grown with. */
export interface ForestOptions {
  nTrees: number;
  /** A split must leave at least this many (bootstrap) rows on each side. */
  minSamplesLeaf: number;
  /** Fraction of features tried at each node (1 = all, as the original's max_features). */
  maxFeatures: number;
  maxDepth: number;
  maxBins: number;
  seed: number;
}

/** One tree in preorder: node i's left child is i + 1, its right child is `right[i]`. */
export interface CompactTree {
  /** Split feature, or -1 for a leaf. */
  feature: Int16Array;
  /** Split threshold (x < threshold goes left), or the leaf's prediction. */
  value: Float32Array;
  right: Int32Array;
  /**
   * Bootstrap rows that reached each node while growing (what Tree SHAP weighs unseen branches
   * by). Forests grown before explanations have none: models/random-forest/covers.ts.
   */
  cover?: Float32Array;
}
