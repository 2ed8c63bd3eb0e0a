/**
 * Dense layers on a few rows in plain JavaScript. On the wasm backend every TensorFlow.js op
 * costs ~4 µs whatever its size, so a one-row TabNet call (~110 ops) took ~0.45 ms for ~31,000
 * multiply-adds: at the 1–20-row batches a worker sees at 1,000 events/s the op count, not the
 * arithmetic, set the time. These loops have no per-op cost but no SIMD either, so they lose
 * on big batches; TabNet picks by row count (`./tabnet/plain-pass.ts`).
 */
import type { DenseArrays } from './batch-norm-folding.ts';

/** A dense layer as `denseRows` reads it: the weights in float64, the precision it sums in. */
export interface RowsDense {
  w: Float64Array;
  b: Float32Array;
  inputs: number;
  outputs: number;
}

export function rowsDense({ w, b, inputs, outputs }: DenseArrays): RowsDense {
  return { w: Float64Array.from(w), b, inputs, outputs };
}

/**
 * x·W + b for `rows` rows of x (row-major, `layer.inputs` per row). Rows go four at a
 * time, so each weight is read once for four rows (~1.7x faster on TabNet's 32 × 64 layers), and
 * sums build in a float64 scratch row, which V8 updates faster than a Float32Array.
 */
export function denseRows(x: Float32Array, rows: number, layer: RowsDense): Float32Array {
  const { b, inputs, outputs } = layer;
  const out = new Float32Array(rows * outputs);
  const sums = new Float64Array(4 * outputs);
  for (let first = 0; first < rows; first += 4) {
    const count = Math.min(4, rows - first);
    for (let k = 0; k < count; k++) sums.set(b, k * outputs);
    if (count === 4) addFourRows(x.subarray(first * inputs), layer, sums);
    else for (let k = 0; k < count; k++) addRow(x.subarray((first + k) * inputs), layer, sums, k * outputs);
    out.set(sums.subarray(0, count * outputs), first * outputs);
  }
  return out;
}

/** sums[0 .. 4·outputs) += the four rows at the start of x times W. */
function addFourRows(x: Float32Array, { w, inputs, outputs }: RowsDense, sums: Float64Array): void {
  const [o1, o2, o3] = [outputs, 2 * outputs, 3 * outputs];
  for (let i = 0; i < inputs; i++) {
    const v0 = x[i]!;
    const v1 = x[inputs + i]!;
    const v2 = x[2 * inputs + i]!;
    const v3 = x[3 * inputs + i]!;
    const wi = i * outputs;
    for (let j = 0; j < outputs; j++) {
      const wij = w[wi + j]!;
      sums[j]! += v0 * wij;
      sums[o1 + j]! += v1 * wij;
      sums[o2 + j]! += v2 * wij;
      sums[o3 + j]! += v3 * wij;
    }
  }
}

/** sums[at .. at + outputs) += the row at the start of x times W. */
function addRow(x: Float32Array, { w, inputs, outputs }: RowsDense, sums: Float64Array, at: number): void {
  for (let i = 0; i < inputs; i++) {
    const v = x[i]!;
    if (v === 0) continue; // ReLU outputs and masked inputs hold exact zeros
    const wi = i * outputs;
    for (let j = 0; j < outputs; j++) sums[at + j]! += v * w[wi + j]!;
  }
}
