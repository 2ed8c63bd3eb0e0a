/**
 * Reads the binary model that ml-xgboost's XGBoost (0.7-era C++ compiled to WebAssembly) saves,
 * so hitstream can score whole batches with typed arrays instead of one wasm call (and one
 * malloc) per row, and read each split's gain for feature importance. The trees are XGBoost's
 * own; test/unit/xgboost-model.test.ts checks that scores equal ml-xgboost's `predict`.
 *
 * Layout (little-endian, from xgboost's learner.cc / gbtree.cc / tree_model.h of that era):
 *   ["binf"] LearnerModelParam(136 B: base_score f32, num_feature u32, num_class i32, ...)
 *   name_obj, name_gbm: u64 length + bytes
 *   GBTreeModelParam(160 B: num_trees i32, num_roots, num_feature, pad, i64, num_output_group, size_leaf_vector, 32 × i32)
 *   per tree: TreeParam(148 B: num_roots, num_nodes, num_deleted, max_depth, num_feature, size_leaf_vector, 31 × i32)
 *             nodes: num_nodes × (parent i32, cleft i32, cright i32, sindex u32, info f32)
 *             stats: num_nodes × (loss_chg f32, sum_hess f32, base_weight f32, leaf_child_cnt i32)
 */
import { HitstreamError } from '../../lib/errors.ts';

export interface XgbTrees {
  baseScore: number;
  numFeature: number;
  objective: string;
  /** All trees' nodes, concatenated; `roots[t]` is tree t's first node. */
  roots: Int32Array;
  left: Int32Array; // absolute index, -1 for a leaf
  right: Int32Array;
  feature: Int32Array;
  defaultLeft: Uint8Array;
  /** Split threshold (x < value goes left), or the leaf's value. */
  value: Float32Array;
  gain: Float32Array;
  /** Each node's sum of hessians: rows reaching it, for squared error (Tree SHAP's cover). */
  cover: Float32Array;
  /** True when every split's right child directly follows its left one (XGBoost allocates them so). */
  siblings: boolean;
  /** For `walkFixedDepth`, built when `siblings`: see there. */
  fixedDepth?: FixedDepthTrees;
}

/**
 * The trees rewritten so that every walk takes exactly its tree's depth in steps: a leaf's next
 * node is itself, and it tests the padding column (always −∞, so never "go right").
 */
interface FixedDepthTrees {
  next: Int32Array;
  feature: Int32Array;
  depth: Int32Array;
}

export function parseXgbModel(bytes: Uint8Array): XgbTrees {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const fail = (what: string) =>
    new HitstreamError('XGB_MODEL_UNREADABLE', `xgboost model: ${what} at byte ${o}`);
  if (String.fromCharCode(...bytes.subarray(0, 4)) === 'binf') o = 4;
  const baseScore = view.getFloat32(o, true);
  const numFeature = view.getUint32(o + 4, true);
  o += 136;
  const readString = () => {
    const len = Number(view.getBigUint64(o, true));
    if (len > 1024) throw fail('implausible string length');
    const s = new TextDecoder().decode(bytes.subarray(o + 8, o + 8 + len));
    o += 8 + len;
    return s;
  };
  const objective = readString();
  const gbm = readString();
  if (gbm !== 'gbtree') throw fail(`booster ${gbm} is not gbtree`);
  const numTrees = view.getInt32(o, true);
  const numOutputGroup = view.getInt32(o + 24, true);
  if (numOutputGroup !== 1) throw fail('only single-output regression models are supported');
  o += 160;
  const trees: { nodes: number; start: number }[] = [];
  let total = 0;
  let scan = o;
  for (let t = 0; t < numTrees; t++) {
    const numNodes = view.getInt32(scan + 4, true);
    const leafVector = view.getInt32(scan + 20, true);
    if (leafVector !== 0) throw fail('leaf vectors are not supported');
    trees.push({ nodes: numNodes, start: scan + 148 });
    total += numNodes;
    scan += 148 + numNodes * 36;
  }
  if (scan > bytes.byteLength) throw fail('truncated');
  const m: XgbTrees = {
    baseScore,
    numFeature,
    objective,
    roots: new Int32Array(numTrees),
    left: new Int32Array(total),
    right: new Int32Array(total),
    feature: new Int32Array(total),
    defaultLeft: new Uint8Array(total),
    value: new Float32Array(total),
    gain: new Float32Array(total),
    cover: new Float32Array(total),
    siblings: true,
  };
  let base = 0;
  trees.forEach((t, ti) => {
    m.roots[ti] = base;
    const stats = t.start + t.nodes * 20;
    for (let k = 0; k < t.nodes; k++) {
      const p = t.start + k * 20;
      const cleft = view.getInt32(p + 4, true);
      const sindex = view.getUint32(p + 12, true);
      m.left[base + k] = cleft === -1 ? -1 : base + cleft;
      m.right[base + k] = cleft === -1 ? -1 : base + view.getInt32(p + 8, true);
      m.feature[base + k] = sindex & 0x7fffffff;
      m.defaultLeft[base + k] = sindex >>> 31;
      m.value[base + k] = view.getFloat32(p + 16, true);
      m.gain[base + k] = view.getFloat32(stats + k * 16, true);
      m.cover[base + k] = view.getFloat32(stats + k * 16 + 4, true);
    }
    base += t.nodes;
  });
  for (let k = 0; k < total; k++) if (m.left[k] !== -1 && m.right[k] !== m.left[k]! + 1) m.siblings = false;
  if (m.siblings) m.fixedDepth = fixedDepthTrees(m);
  return m;
}

function fixedDepthTrees(m: XgbTrees): FixedDepthTrees {
  const next = m.left.map((l, k) => (l === -1 ? k : l));
  const feature = m.feature.map((j, k) => (m.left[k] === -1 ? m.numFeature : j));
  const depth = new Int32Array(m.roots.length);
  const nodeDepth = new Int32Array(m.left.length);
  m.roots.forEach((root, t) => {
    const end = t + 1 < m.roots.length ? m.roots[t + 1]! : m.left.length;
    // Children come after their parent in XGBoost's node order, so one pass sets every depth.
    for (let k = root; k < end; k++) {
      if (m.left[k] === -1) depth[t] = Math.max(depth[t]!, nodeDepth[k]!);
      else nodeDepth[m.left[k]!] = nodeDepth[m.right[k]!] = nodeDepth[k]! + 1;
    }
  });
  return { next, feature, depth };
}

/** Adds tree t's leaf value for every row of X to `out`. NaN takes the split's default direction. */
function addTree(m: XgbTrees, t: number, X: Float32Array, f: number, out: Float32Array | Float64Array): void {
  const { roots, left, right, feature, defaultLeft, value } = m;
  const root = roots[t]!;
  for (let i = 0; i < out.length; i++) {
    let node = root;
    const o = i * f;
    while (left[node] !== -1) {
      const x = X[o + feature[node]!]!;
      node = Number.isNaN(x)
        ? defaultLeft[node]
          ? left[node]!
          : right[node]!
        : x < value[node]!
          ? left[node]!
          : right[node]!;
    }
    out[i]! += value[node]!;
  }
}

/** Scores a row-major batch (n × numFeature). NaN takes the split's default direction. */
export function predictXgb(m: XgbTrees, X: Float32Array, f: number): Float32Array {
  const n = X.length / f;
  const out = new Float32Array(n).fill(m.baseScore);
  if (m.fixedDepth && f === m.numFeature && !X.some(Number.isNaN))
    return walkFixedDepth(m, m.fixedDepth, X, out);
  for (let t = 0; t < m.roots.length; t++) addTree(m, t, X, f, out);
  return out;
}

/** The scores of the first `trees` trees (what a shorter model would give). */
export function predictFirstTrees(m: XgbTrees, X: Float32Array, f: number, trees: number): Float32Array {
  const out = new Float32Array(X.length / f).fill(m.baseScore);
  for (let t = 0; t < Math.min(trees, m.roots.length); t++) addTree(m, t, X, f, out);
  return out;
}

/**
 * RMSE on (X, y) of the first k trees, for every k (predictions clipped to 0..100 as served):
 * the validation curve that picks how many trees to keep.
 */
export function rmseByTreeCount(m: XgbTrees, X: Float32Array, f: number, y: Float32Array): number[] {
  const sums = new Float64Array(y.length).fill(m.baseScore);
  const curve: number[] = [];
  for (let t = 0; t < m.roots.length; t++) {
    addTree(m, t, X, f, sums);
    let sq = 0;
    for (let i = 0; i < y.length; i++) sq += (Math.min(100, Math.max(0, sums[i]!)) - y[i]!) ** 2;
    curve.push(Math.sqrt(sq / y.length));
  }
  return curve;
}

/** Total split gain per feature, normalised to sum to 1. */
export function xgbImportance(m: XgbTrees, f: number): number[] {
  const g = new Float64Array(f);
  for (let k = 0; k < m.left.length; k++) if (m.left[k] !== -1) g[m.feature[k]!]! += m.gain[k]!;
  const total = g.reduce((a, b) => a + b, 0) || 1;
  return Array.from(g, (v) => v / total);
}

/**
 * The scorer for batches without missing values. A step is `next + (go right ? 1 : 0)`, with no
 * branch to mispredict, and every walk in a tree takes the same number of steps (its depth), so
 * four rows walk each tree side by side: their chains of dependent loads overlap instead of
 * waiting one after the other. Deployed model, 256-row batches: 36 µs/row with the branching
 * walk, 30–34 branch-free one row at a time, 14–17 four at a time.
 */
function walkFixedDepth(m: XgbTrees, w: FixedDepthTrees, X: Float32Array, out: Float32Array): Float32Array {
  const f = m.numFeature;
  const stride = f + 1;
  const n = out.length;
  const rows = new Float32Array(n * stride).fill(-Infinity);
  for (let i = 0; i < n; i++) rows.set(X.subarray(i * f, i * f + f), i * stride);
  const { next, feature, depth } = w;
  const { value, roots } = m;
  const four = n - (n % 4);
  for (let t = 0; t < roots.length; t++) {
    const root = roots[t]!;
    const steps = depth[t]!;
    for (let i = 0; i < four; i += 4) {
      const o0 = i * stride;
      const o1 = o0 + stride;
      const o2 = o1 + stride;
      const o3 = o2 + stride;
      let a = root;
      let b = root;
      let c = root;
      let d = root;
      for (let s = 0; s < steps; s++) {
        a = next[a]! + +(rows[o0 + feature[a]!]! >= value[a]!);
        b = next[b]! + +(rows[o1 + feature[b]!]! >= value[b]!);
        c = next[c]! + +(rows[o2 + feature[c]!]! >= value[c]!);
        d = next[d]! + +(rows[o3 + feature[d]!]! >= value[d]!);
      }
      out[i]! += value[a]!;
      out[i + 1]! += value[b]!;
      out[i + 2]! += value[c]!;
      out[i + 3]! += value[d]!;
    }
    for (let i = four; i < n; i++) {
      const o = i * stride;
      let a = root;
      for (let s = 0; s < steps; s++) a = next[a]! + +(rows[o + feature[a]!]! >= value[a]!);
      out[i]! += value[a]!;
    }
  }
  return out;
}
