/**
 * Exact path-dependent Tree SHAP (the values of shap's TreeExplainer with
 * feature_perturbation="tree_path_dependent") in O(nodes × K) per row, K = ⌈u/2⌉ for the most distinct
 * features u on one path of the tree (≤ f).
 *
 * Why not the classic algorithm (Lundberg et al. 2018, Algorithm 2): it costs O(leaves × D²) with
 * D the distinct features on a path, and the served forest has 1.5 M nodes, 41 deep, up to 20
 * distinct features on a path (not measured here: ~10× this one's arithmetic). This follows Linear TreeSHAP's idea (Yu, Bifet, Read
 * & Xu, NeurIPS 2022): keep each path's Shapley weights as a polynomial, evaluated at fixed
 * points, and let the tree's recursion share the work.
 *
 * The maths, for one leaf v (value y_v) and its path's distinct features U: feature j's splits on
 * the path give p_j (1 if x takes all of them, else 0) and r_j (the product of cover(child) /
 * cover(parent) over them). The path-dependent game is g(S) = y_v Π_{j∈S} p_j Π_{j∉S} r_j, whose
 * Shapley values are φ_i = y_v (p_i − r_i) ∫₀¹ Π_{j∈U, j≠i} (t p_j + (1 − t) r_j) dt: a polynomial
 * of degree < f, integrated exactly by K-point Gauss–Legendre. Going down, A(t) = Π_j q_j(t) with
 * q_j = t p_j + (1 − t) r_j is updated one split at a time (a feature's factor replaced when it
 * splits again); coming up, H_n(t) = Σ_{leaves v under n} y_v A_v(t). A split on i into child c
 * adds ∫ H_c(t) (g_new(t) − g_old(t)) dt to φ_i, with g = (p − r)/q before and after the split:
 * along any path these differences telescope to the leaf's own (p_i − r_i)/q_i, so the parts that
 * are not polynomials cancel exactly at the quadrature points. A feature not yet on the path has
 * p = r = 1 (q = 1, g = 0), so it needs no special case.
 *
 * The base value is g(∅) = Σ_v y_v cover_v / cover_root, the cover-weighted mean of the leaves.
 * Local accuracy: base + Σ φ = the tree's output for x (test/unit/tree-shap.test.ts).
 */

/** Trees as Tree SHAP reads them: every node with explicit children, its cover and its value. */
export interface ShapTrees {
  /** Each tree's root node. */
  roots: Int32Array;
  left: Int32Array;
  right: Int32Array;
  /** Split feature, or -1 at a leaf. */
  feature: Int32Array;
  /** Split threshold (x < threshold goes left) or the leaf's value. */
  value: Float32Array;
  cover: Float32Array;
  /** Where a missing (NaN) value goes; absent: right, as `x < threshold` is false. */
  defaultLeft?: Uint8Array;
  /** Output = offset + scale × Σ trees (a forest's mean: 1/trees; boosting: 1 and its base score). */
  scale: number;
  offset: number;
  /** The deepest leaf's depth, for the recursion's buffers. */
  maxDepth: number;
}

/** Gauss–Legendre points and weights on [0, 1] (Newton on the Legendre polynomial, float64). */
export function gaussLegendre(k: number): { t: Float64Array; w: Float64Array } {
  const t = new Float64Array(k);
  const w = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (k + 0.5));
    let slope = 1;
    for (let iter = 0; iter < 100; iter++) {
      let pn = 1; // P_n(x), by the three-term recurrence
      let pPrev = 0;
      for (let n = 1; n <= k; n++) [pPrev, pn] = [pn, ((2 * n - 1) * x * pn - (n - 1) * pPrev) / n];
      slope = (k * (x * pn - pPrev)) / (x * x - 1);
      const dx = pn / slope;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    t[i] = (1 - x) / 2;
    w[i] = 1 / ((1 - x * x) * slope * slope);
  }
  return { t, w };
}

/** The base value: scale × Σ trees' cover-weighted leaf means, plus the offset. */
export function expectedValue(m: ShapTrees): number {
  let sum = 0;
  m.roots.forEach((root) => {
    const stack = [root];
    let tree = 0;
    while (stack.length) {
      const n = stack.pop()!;
      if (m.feature[n]! < 0) tree += (m.value[n]! * m.cover[n]!) / m.cover[root]!;
      else stack.push(m.left[n]!, m.right[n]!);
    }
    sum += tree;
  });
  return m.offset + m.scale * sum;
}

export type TreeShapExplainer = (
  x: Float32Array,
  phi: Float64Array,
  fromTree?: number,
  toTree?: number,
) => void;

/**
 * Adds each feature's SHAP value for row `x` to `phi` (length f), from trees [fromTree, toTree)
 * (all by default). Buffers are reused across calls: one explainer explains one row at a time.
 *
 * Since p is 0 or 1, three cases cover every split on feature j:
 * - j already failed on this path (p = 0): q keeps its shape, only r shrinks, and g/q is
 *   −1/(1 − t) before and after, so the split adds nothing and A only scales: A is kept as a
 *   vector times a scalar, and such a split touches no vector;
 * - x goes the other way (p becomes 0): q_new = (1 − t) r_new;
 * - x goes this way (p stays 1): q_new = t + (1 − t) r_new.
 * A leaf child is summed in its parent's loop, without a call.
 */
export function treeShapExplainer(m: ShapTrees, f: number): TreeShapExplainer {
  // Exact for polynomials of degree ≤ 2K − 1: a path with u distinct features needs K ≥ u/2, so
  // each tree gets the K of its longest path (XGBoost's depth-10 trees need 5 points, not 11).
  const treeK = Int32Array.from(distinctFeaturesPerTree(m, f), (u) => Math.max(1, Math.ceil(u / 2)));
  const maxK = Math.max(1, ...treeK);
  const rules = Array.from({ length: maxK + 1 }, (_, k) => {
    const { t, w } = gaussLegendre(Math.max(1, k));
    return { t, w, oneMinusT: t.map((v) => 1 - v), coldG: t.map((v) => -1 / (1 - v)) }; // g/q once p = 0
  });
  // The tree's K and rule, read into locals by each function (a changing closure variable read in
  // every loop iteration measured ~25% slower).
  let k_ = maxK;
  let rule = rules[maxK]!;
  const levels = m.maxDepth + 2;
  const A = new Float64Array(levels * maxK); // the path's polynomial (without its scalar) per depth
  const H = new Float64Array(levels * maxK); // the subtree's leaf sums per depth
  const gOld = new Float64Array(levels * maxK); // g/q of the split's feature before it, per depth
  const invQo = new Float64Array(levels * maxK);
  const F = new Float64Array(levels * maxK); // child's A = parent's A × F (per depth)
  const D = new Float64Array(levels * maxK); // w × (g_new − g_old): a child's H → φ_j (per depth)
  const P = new Uint8Array(f);
  const R = new Float64Array(f);
  const { left, right, feature, value, cover, defaultLeft } = m;
  let row: Float32Array = new Float32Array(f);
  let out: Float64Array = new Float64Array(f);

  /** Adds child c's leaf sums (its polynomial s·A[aOff..]) into H at depth d (reset when `first`). */
  const addScaledChild = (c: number, d: number, aOff: number, s: number, first: boolean): void => {
    const K = k_;
    const h = d * K;
    if (feature[c]! < 0) {
      const ys = value[c]! * s;
      if (first) for (let k = 0; k < K; k++) H[h + k] = ys * A[aOff + k]!;
      else for (let k = 0; k < K; k++) H[h + k]! += ys * A[aOff + k]!;
      return;
    }
    visit(c, d + 1, aOff, s);
    if (first) for (let k = 0; k < K; k++) H[h + k] = H[h + K + k]!;
    else for (let k = 0; k < K; k++) H[h + k]! += H[h + K + k]!;
  };

  /** Like addScaledChild, with A × F at depth d for the child, and returns Σ D × its sums. */
  const addChild = (c: number, d: number, aOff: number, s: number, first: boolean): number => {
    const K = k_;
    const h = d * K;
    let contribution = 0;
    if (feature[c]! < 0) {
      const ys = value[c]! * s;
      for (let k = 0; k < K; k++) {
        const hc = ys * A[aOff + k]! * F[h + k]!;
        contribution += hc * D[h + k]!;
        H[h + k] = first ? hc : H[h + k]! + hc;
      }
      return contribution;
    }
    const b = h + K;
    for (let k = 0; k < K; k++) A[b + k] = A[aOff + k]! * F[h + k]!;
    visit(c, d + 1, b, s);
    for (let k = 0; k < K; k++) {
      const hc = H[b + k]!;
      contribution += hc * D[h + k]!;
      H[h + k] = first ? hc : H[h + k]! + hc;
    }
    return contribution;
  };

  /** Fills H at depth d with Σ leaves y·A under split n, where the path's polynomial is s·A[aOff..]. */
  const visit = (n: number, d: number, aOff: number, s: number): void => {
    const K = k_;
    const { t, w, oneMinusT, coldG } = rule;
    const h = d * K;
    const j = feature[n]!;
    const l = left[n]!;
    const r = right[n]!;
    const cn = cover[n]!;
    if (P[j] === 0) {
      addScaledChild(l, d, aOff, (s * cover[l]!) / cn, true);
      addScaledChild(r, d, aOff, (s * cover[r]!) / cn, false);
      return;
    }
    const rOld = R[j]!;
    if (rOld === 1) {
      // j's first split on this path (half of all splits): q = 1, g = 0, no division.
      for (let k = 0; k < K; k++) {
        invQo[h + k] = 1;
        gOld[h + k] = 0;
      }
    } else
      for (let k = 0; k < K; k++) {
        const iq = 1 / (t[k]! + oneMinusT[k]! * rOld);
        invQo[h + k] = iq;
        gOld[h + k] = (1 - rOld) * iq;
      }
    const xv = row[j]!;
    const hotLeft = Number.isNaN(xv) ? defaultLeft?.[n] === 1 : xv < value[n]!;
    let phiJ = 0;
    for (let side = 0; side < 2; side++) {
      const c = side === 0 ? l : r;
      const rNew = (rOld * cover[c]!) / cn;
      if ((side === 0) === hotLeft) {
        for (let k = 0; k < K; k++) {
          const qn = t[k]! + oneMinusT[k]! * rNew;
          F[h + k] = qn * invQo[h + k]!;
          D[h + k] = w[k]! * ((1 - rNew) / qn - gOld[h + k]!);
        }
        R[j] = rNew;
        phiJ += addChild(c, d, aOff, s, side === 0);
        R[j] = rOld;
      } else {
        for (let k = 0; k < K; k++) {
          F[h + k] = oneMinusT[k]! * invQo[h + k]!;
          D[h + k] = w[k]! * (coldG[k]! - gOld[h + k]!);
        }
        P[j] = 0;
        phiJ += addChild(c, d, aOff, s * rNew, side === 0);
        P[j] = 1;
      }
    }
    out[j]! += m.scale * phiJ;
  };

  // Every tree leaves P and R as it found them (all 1), so a row can be explained a few trees at a time.
  P.fill(1);
  R.fill(1);
  return (x, phi, fromTree = 0, toTree = m.roots.length) => {
    row = x;
    out = phi;
    A.fill(1, 0, maxK);
    for (let tree = fromTree; tree < toTree; tree++) {
      k_ = treeK[tree]!;
      rule = rules[k_]!;
      addScaledChild(m.roots[tree]!, 0, 0, 1, true);
    }
  };
}

/** Per tree, the most distinct features on one root-to-leaf path. */
function distinctFeaturesPerTree(m: ShapTrees, f: number): number[] {
  const seen = new Int32Array(f);
  const most = (n: number, distinct: number): number => {
    const j = m.feature[n]!;
    if (j < 0) return distinct;
    const d = seen[j] === 0 ? distinct + 1 : distinct;
    seen[j]!++;
    const r = Math.max(most(m.left[n]!, d), most(m.right[n]!, d));
    seen[j]!--;
    return r;
  };
  return Array.from(m.roots, (root) => most(root, 0));
}
