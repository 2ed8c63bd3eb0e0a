/** What training the two TensorFlow.js models shares: target scaling, epochs, early-stopping slices, importance. */
import { groupedSplit, rng } from './split.ts';

/** Mean and standard deviation of the target, to train on a unit-scale output. */
export function targetScale(y: Float32Array) {
  let m = 0;
  for (const v of y) m += v;
  m /= y.length;
  let s = 0;
  for (const v of y) s += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(s / y.length) || 1 };
}

/**
 * Permutation importance on a sample: how much the squared error grows when one feature's column
 * is shuffled. Normalised to sum to 1 (negative growth counts as 0).
 */
export async function permutationImportance(
  predict: (X: Float32Array) => Promise<Float32Array>,
  X: Float32Array,
  y: Float32Array,
  f: number,
  seed: number,
  sample = 2000,
): Promise<number[]> {
  const n = Math.min(sample, y.length);
  const Xs = X.slice(0, n * f);
  const ys = y.subarray(0, n);
  const mse = (p: Float32Array) => p.reduce((a, v, i) => a + (v - ys[i]!) ** 2, 0) / n;
  const base = mse(await predict(Xs));
  const random = rng(seed);
  const grow: number[] = [];
  for (let j = 0; j < f; j++) {
    const Xp = Xs.slice();
    for (let i = n - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      const a = Xp[i * f + j]!;
      Xp[i * f + j] = Xp[k * f + j]!;
      Xp[k * f + j] = a;
    }
    grow.push(Math.max(0, mse(await predict(Xp)) - base));
  }
  const total = grow.reduce((a, b) => a + b, 0) || 1;
  return grow.map((g) => g / total);
}

/** Shuffled mini-batch index order for one epoch. */
export function epochOrder(n: number, random: () => number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(random() * (i + 1));
    const a = idx[i]!;
    idx[i] = idx[k]!;
    idx[k] = a;
  }
  return idx;
}

/** Copies rows `idx[from..to)` of a row-major matrix into a new batch. */
export function gatherRows(
  X: Float32Array,
  f: number,
  idx: Int32Array,
  from: number,
  to: number,
): Float32Array {
  const out = new Float32Array((to - from) * f);
  for (let k = from; k < to; k++) out.set(X.subarray(idx[k]! * f, idx[k]! * f + f), (k - from) * f);
  return out;
}

/**
 * The rows early stopping watches and the rows trained on. By track when the rows' tracks are
 * known, the same slice XGBoost chooses its trees on (seed + 1, 15%): copies of a track on both
 * sides would flatter the watched RMSE. Otherwise a random 10%.
 */
export function validationSplit(
  n: number,
  random: () => number,
  groups: readonly string[] | undefined,
  seed: number,
): { valIdx: Int32Array; trainIdx: Int32Array } {
  if (groups && groups.length === n) {
    const split = groupedSplit(groups, seed + 1, 0.15);
    if (split.test.length > 0 && split.train.length > 0)
      return { valIdx: Int32Array.from(split.test), trainIdx: Int32Array.from(split.train) };
  }
  const order = epochOrder(n, random);
  const nVal = Math.round(n * 0.1);
  return { valIdx: order.subarray(0, nVal), trainIdx: order.slice(nVal) };
}
