/** XGBoost's trees as Tree SHAP reads them: its sum of hessians as covers, plus its base score. */
import type { ShapTrees } from '../explain/tree-shap.ts';
import type { XgbTrees } from './binary-model.ts';

export function xgbShapTrees(m: XgbTrees): ShapTrees {
  const depth = new Int32Array(m.left.length);
  let maxDepth = 0;
  // Children come after their parent in XGBoost's node order, so one pass sets every depth.
  for (let k = 0; k < m.left.length; k++) {
    if (m.left[k] === -1) maxDepth = Math.max(maxDepth, depth[k]!);
    else depth[m.left[k]!] = depth[m.right[k]!] = depth[k]! + 1;
  }
  return {
    roots: m.roots,
    left: m.left,
    right: m.right,
    feature: m.feature.map((j, k) => (m.left[k] === -1 ? -1 : j)),
    value: m.value,
    cover: m.cover,
    defaultLeft: m.defaultLeft,
    scale: 1,
    offset: m.baseScore,
    maxDepth,
  };
}
