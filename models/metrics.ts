export interface Metrics {
  rmse: number;
  mae: number;
  r2: number;
}

export function regressionMetrics(truth: ArrayLike<number>, pred: ArrayLike<number>): Metrics {
  const n = truth.length;
  let se = 0;
  let ae = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += truth[i]!;
  mean /= n;
  let tss = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i]! - truth[i]!;
    se += d * d;
    ae += Math.abs(d);
    tss += (truth[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(se / n), mae: ae / n, r2: 1 - se / tss };
}
