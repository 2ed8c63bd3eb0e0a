/** The forest as Tree SHAP reads it: explicit left children, its covers, the mean of its trees. */
import type { ShapTrees } from '../explain/tree-shap.ts';
import type { CompactTree } from './tree.ts';

/** Trees flattened between two yields: a worker builds these on its first explanation, between live batches. */
const TREES_PER_SLICE = 8;

export async function forestShapTrees(
  trees: readonly CompactTree[],
  covers: readonly Float32Array[],
): Promise<ShapTrees> {
  const total = trees.reduce((n, t) => n + t.feature.length, 0);
  const m: ShapTrees = {
    roots: new Int32Array(trees.length),
    left: new Int32Array(total),
    right: new Int32Array(total),
    feature: new Int32Array(total),
    value: new Float32Array(total),
    cover: new Float32Array(total),
    scale: 1 / trees.length,
    offset: 0,
    maxDepth: 0,
  };
  let base = 0;
  for (const [ti, t] of trees.entries()) {
    if (ti > 0 && ti % TREES_PER_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
    m.roots[ti] = base;
    const depth = new Int32Array(t.feature.length);
    for (let k = 0; k < t.feature.length; k++) {
      const leaf = t.feature[k] === -1;
      m.feature[base + k] = t.feature[k]!;
      m.value[base + k] = t.value[k]!;
      m.cover[base + k] = covers[ti]![k]!;
      m.left[base + k] = leaf ? -1 : base + k + 1;
      m.right[base + k] = leaf ? -1 : base + t.right[k]!;
      if (leaf) m.maxDepth = Math.max(m.maxDepth, depth[k]!);
      else depth[k + 1] = depth[t.right[k]!] = depth[k]! + 1; // preorder: children come later
    }
    base += t.feature.length;
  }
  return m;
}
