/**
 * Reference distributions for drift: decile bin edges of each feature and of each model's score
 * on the training data, with the share of training rows in each bin (≈ 0.1 each, less even for
 * discrete features). The drift queries compare live bin shares with these (PSI, Jensen-Shannon).
 */
export interface BinnedReference {
  /** Inner edges, ascending: bin k holds x with edges[k-1] <= x < edges[k]. */
  edges: number[];
  proportions: number[];
}

export function decileReference(values: ArrayLike<number>): BinnedReference {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const edges: number[] = [];
  for (let q = 1; q < 10; q++) {
    const v = sorted[Math.min(n - 1, Math.floor((q * n) / 10))]!;
    if (!edges.length || v > edges[edges.length - 1]!) edges.push(v);
  }
  // Drop an edge at the minimum: it would leave the first bin empty.
  if (edges.length && edges[0]! <= sorted[0]!) edges.shift();
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of sorted) counts[binOf(edges, v)]! += 1;
  return { edges, proportions: counts.map((c) => c / n) };
}

/** The number of edges ≤ v: the bin of v (also the random forest's feature bins). */
export function binOf(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v < edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Population stability index of `actual` shares against `expected` shares (ε-smoothed). */
export function psi(expected: readonly number[], actual: readonly number[], eps = 1e-4): number {
  let s = 0;
  expected.forEach((e, k) => {
    const a = actual[k] ?? 0;
    const ee = Math.max(e, eps);
    const aa = Math.max(a, eps);
    s += (aa - ee) * Math.log(aa / ee);
  });
  return s;
}

/** Jensen-Shannon divergence (base 2, in 0..1) between two distributions over the same bins. */
export function jensenShannon(p: readonly number[], q: readonly number[]): number {
  const kl = (a: readonly number[], b: readonly number[]) =>
    a.reduce((s, ai, k) => (ai > 0 ? s + ai * Math.log2(ai / b[k]!) : s), 0);
  const m = p.map((pi, k) => (pi + (q[k] ?? 0)) / 2);
  return (kl(p, m) + kl(q, m)) / 2;
}

/** Bin counts → shares over `bins` bins (missing bins are 0). */
export function shares(counts: ReadonlyMap<number, number>, bins: number): number[] {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return Array.from({ length: bins }, (_, k) => (total ? (counts.get(k) ?? 0) / total : 0));
}
