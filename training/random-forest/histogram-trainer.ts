/**
 * A random-forest regression trainer that emits ml-random-forest's model format.
 *
 * Why not ml-random-forest's own trainer: ml-cart evaluates every split candidate with an O(n) pass,
 * so a node of n rows costs O(n²) and 100k rows do not finish (STACK.md: 20k rows × 20 trees > 10
 * min). Here each feature is bucketed once into at most 255 quantile bins; a node's best split is
 * found from per-bin sums (one pass over its rows per feature), so a tree costs O(n · features ·
 * depth). Split rule and leaf values are the same as ml-cart's (`x < threshold` goes left; a leaf
 * predicts the mean), so ml-random-forest's predictor scores the result unchanged.
 */
import { binOf } from '../../models/drift-reference.ts';
import { rng } from '../split.ts';
import type { CompactTree, ForestOptions } from '../../models/random-forest/tree.ts';

export interface Binned {
  bins: Uint8Array; // row-major n × f
  edges: Float32Array[]; // per feature: x < edges[b] ⇔ bin(x) ≤ b
}

/** Quantile bins per feature, fitted on the training rows. */
export function binFeatures(X: Float32Array, n: number, f: number, maxBins: number): Binned {
  const edges: Float32Array[] = [];
  const bins = new Uint8Array(n * f);
  const col = new Float32Array(n);
  for (let j = 0; j < f; j++) {
    for (let i = 0; i < n; i++) col[i] = X[i * f + j]!;
    const sorted = col.slice().sort();
    const distinct: number[] = [];
    for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]!);
    let e: number[];
    if (distinct.length <= maxBins) {
      e = distinct.slice(1).map((v, k) => (distinct[k]! + v) / 2);
    } else {
      const cuts = new Set<number>();
      for (let k = 1; k < maxBins; k++) cuts.add(sorted[Math.floor((k * n) / maxBins)]!);
      e = [...cuts].sort((a, b) => a - b).filter((v) => v > distinct[0]!);
    }
    const ej = Float32Array.from(e);
    edges.push(ej);
    for (let i = 0; i < n; i++) bins[i * f + j] = binOf(ej, col[i]!);
  }
  return { bins, edges };
}

interface Task {
  start: number;
  end: number;
  depth: number;
  parent: number; // node whose right pointer this task fills, or -1
}

/** Grows one tree on the rows idx (a bootstrap sample, duplicates allowed). */
export function growTree(
  data: Binned,
  y: Float32Array,
  f: number,
  idx: Uint32Array,
  opts: ForestOptions,
  random: () => number,
  importance: Float64Array,
): CompactTree {
  const feature: number[] = [];
  const value: number[] = [];
  const right: number[] = [];
  const cover: number[] = [];
  const sum = new Float64Array(256);
  const cnt = new Uint32Array(256);
  const touched = new Uint8Array(256);
  const tried = Math.max(1, Math.round(opts.maxFeatures * f));
  const order = Array.from({ length: f }, (_, j) => j);
  const stack: Task[] = [{ start: 0, end: idx.length, depth: 0, parent: -1 }];
  const { bins, edges } = data;

  while (stack.length) {
    const t = stack.pop()!;
    const node = feature.length;
    if (t.parent >= 0) right[t.parent] = node;
    const n = t.end - t.start;
    cover.push(n);
    let s = 0;
    let ss = 0;
    for (let k = t.start; k < t.end; k++) {
      const v = y[idx[k]!]!;
      s += v;
      ss += v * v;
    }
    const parentScore = (s * s) / n;
    let bestGain = 1e-9;
    let bestFeature = -1;
    let bestBin = -1;
    if (n >= 2 * opts.minSamplesLeaf && t.depth < opts.maxDepth && ss - parentScore > 1e-9) {
      // A random subset of features per node (Fisher-Yates prefix), as scikit-learn does.
      for (let a = 0; a < tried; a++) {
        const b = a + Math.floor(random() * (f - a));
        [order[a], order[b]] = [order[b]!, order[a]!];
      }
      for (let a = 0; a < tried; a++) {
        const j = order[a]!;
        let nTouched = 0;
        for (let k = t.start; k < t.end; k++) {
          const r = idx[k]!;
          const b = bins[r * f + j]!;
          if (cnt[b] === 0) touched[nTouched++] = b;
          cnt[b]! += 1;
          sum[b]! += y[r]!;
        }
        if (nTouched > 1) {
          const used = touched.subarray(0, nTouched).sort();
          let sl = 0;
          let nl = 0;
          for (let u = 0; u < nTouched - 1; u++) {
            const b = used[u]!;
            sl += sum[b]!;
            nl += cnt[b]!;
            const nr = n - nl;
            if (nl < opts.minSamplesLeaf) continue;
            if (nr < opts.minSamplesLeaf) break;
            const sr = s - sl;
            const gain = (sl * sl) / nl + (sr * sr) / nr - parentScore;
            if (gain > bestGain) {
              bestGain = gain;
              bestFeature = j;
              bestBin = b;
            }
          }
        }
        for (let u = 0; u < nTouched; u++) {
          const b = touched[u]!;
          cnt[b] = 0;
          sum[b] = 0;
        }
      }
    }
    if (bestFeature < 0) {
      feature.push(-1);
      value.push(s / n);
      right.push(-1);
      continue;
    }
    importance[bestFeature]! += bestGain;
    // Partition rows: bin ≤ bestBin to the left.
    let lo = t.start;
    let hi = t.end - 1;
    while (lo <= hi) {
      if (bins[idx[lo]! * f + bestFeature]! <= bestBin) lo++;
      else {
        const tmp = idx[lo]!;
        idx[lo] = idx[hi]!;
        idx[hi] = tmp;
        hi--;
      }
    }
    feature.push(bestFeature);
    value.push(edges[bestFeature]![bestBin]!);
    right.push(-1);
    stack.push({ start: lo, end: t.end, depth: t.depth + 1, parent: node });
    stack.push({ start: t.start, end: lo, depth: t.depth + 1, parent: -1 });
  }
  return {
    feature: Int16Array.from(feature),
    value: Float32Array.from(value),
    right: Int32Array.from(right),
    cover: Float32Array.from(cover),
  };
}

export interface Forest {
  trees: CompactTree[];
  /** Total squared-error reduction per feature, normalised to sum to 1. */
  importance: number[];
}

export function trainForest(
  X: Float32Array,
  y: Float32Array,
  f: number,
  opts: ForestOptions,
  onTree: (done: number, tree: CompactTree) => void = () => undefined,
): Forest {
  const n = y.length;
  const data = binFeatures(X, n, f, opts.maxBins);
  const random = rng(opts.seed);
  const importance = new Float64Array(f);
  const trees: CompactTree[] = [];
  const idx = new Uint32Array(n);
  for (let t = 0; t < opts.nTrees; t++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(random() * n);
    const tree = growTree(data, y, f, idx, opts, random, importance);
    trees.push(tree);
    onTree(t + 1, tree);
  }
  const total = importance.reduce((a, b) => a + b, 0) || 1;
  return { trees, importance: Array.from(importance, (v) => v / total) };
}
