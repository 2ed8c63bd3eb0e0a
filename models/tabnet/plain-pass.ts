/**
 * TabNet's folded scoring pass (`./scoring-graph.ts`) in plain JavaScript, for batches of a few
 * rows, where TensorFlow.js's ~4 µs per op outweighs the arithmetic (`../dense-rows.ts`).
 * Step for step the graph's ops, on row-major Float32Arrays.
 */
import type { DenseArrays } from '../batch-norm-folding.ts';
import { denseRows, type RowsDense, rowsDense } from '../dense-rows.ts';
import type { TabNetParams } from './network.ts';

/**
 * Batches of at most this many rows go through the plain pass, bigger ones through TensorFlow.js.
 * Measured on the deployed network (2026-12-07, µs per call, plain vs TensorFlow.js): 1 row 113
 * vs 463, 8 rows 287 vs 522, 16 rows 533 vs 578, 32 rows 917 vs 670.
 */
export const PLAIN_PASS_MAX_ROWS = 16;

/** A network's layers with their batch norms folded in. */
export interface FoldedTabNet {
  p: TabNetParams;
  /** Per step 0..nSteps, its GLU blocks: the first nD + nA outputs linear, the rest the gate. */
  transformers: DenseArrays[][];
  /** The attentive transformers of steps 1..nSteps (index step − 1). */
  attention: DenseArrays[];
  output: DenseArrays;
}

/**
 * The pass for a network: x, `rows` normalized rows (row-major) → y, standardized scores, and
 * aggregate, the feature use (rows × f).
 */
export function plainPass(folded: FoldedTabNet) {
  const net = {
    transformers: folded.transformers.map((blocks) => blocks.map(rowsDense)),
    attention: folded.attention.map(rowsDense),
    output: rowsDense(folded.output),
  };
  return (x: Float32Array, rows: number) => pass(folded.p, net, x, rows);
}

interface PlainLayers {
  transformers: RowsDense[][];
  attention: RowsDense[];
  output: RowsDense;
}

function pass(p: FoldedTabNet['p'], net: PlainLayers, x: Float32Array, rows: number) {
  const { nD, nA, nSteps, gamma } = p;
  const f = x.length / rows;
  const half = nD + nA;
  const transform = (step: number, input: Float32Array) => {
    let h: Float32Array | undefined;
    for (const layer of net.transformers[step]!) {
      const g = glu(denseRows(h ?? input, rows, layer), half);
      if (h) for (let k = 0; k < h.length; k++) h[k] = (h[k]! + g[k]!) * Math.SQRT1_2;
      else h = g;
    }
    if (!h) throw new Error('TabNet: a feature transformer without blocks');
    return h;
  };
  let a = columns(transform(0, x), half, nD, nA);
  const prior = new Float32Array(rows * f).fill(1);
  const out = new Float32Array(rows * nD);
  const aggregate = new Float32Array(rows * f);
  for (let step = 1; step <= nSteps; step++) {
    const m = denseRows(a, rows, net.attention[step - 1]!);
    for (let k = 0; k < m.length; k++) m[k]! *= prior[k]!;
    for (let r = 0; r < rows; r++) {
      const row = m.subarray(r * f, (r + 1) * f);
      if (p.mask === 'sparsemax') sparsemaxInPlace(row);
      else softmaxInPlace(row);
    }
    const masked = new Float32Array(m.length);
    for (let k = 0; k < m.length; k++) {
      prior[k]! *= gamma - m[k]!;
      masked[k] = m[k]! * x[k]!;
    }
    const h = transform(step, masked);
    for (let r = 0; r < rows; r++) {
      let used = 0;
      for (let j = 0; j < nD; j++) {
        const d = Math.max(0, h[r * half + j]!);
        out[r * nD + j]! += d;
        used += d;
      }
      for (let j = 0; j < f; j++) aggregate[r * f + j]! += m[r * f + j]! * used;
    }
    a = columns(h, half, nD, nA);
  }
  return { y: denseRows(out, rows, net.output), aggregate };
}

/** [linear | gate] per row (2·half wide) → linear · sigmoid(gate) (half wide). */
function glu(h: Float32Array, half: number): Float32Array {
  const rows = h.length / (2 * half);
  const out = new Float32Array(rows * half);
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < half; j++)
      out[r * half + j] = h[r * 2 * half + j]! / (1 + Math.exp(-h[r * 2 * half + half + j]!));
  return out;
}

/** Columns [from, from + count) of a row-major matrix `width` wide. */
function columns(h: Float32Array, width: number, from: number, count: number): Float32Array {
  const rows = h.length / width;
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r++) out.set(h.subarray(r * width + from, r * width + from + count), r * count);
  return out;
}

function softmaxInPlace(z: Float32Array): void {
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let sum = 0;
  for (let j = 0; j < z.length; j++) sum += z[j] = Math.exp(z[j]! - max);
  for (let j = 0; j < z.length; j++) z[j]! /= sum;
}

/** The projection onto the simplex (`./sparsemax.ts`): z − τ, clipped at 0. */
function sparsemaxInPlace(z: Float32Array): void {
  const sorted = Float32Array.from(z).sort().reverse();
  let cumsum = 0;
  let support = 0;
  let supportSum = 0;
  for (let k = 1; k <= sorted.length; k++) {
    cumsum += sorted[k - 1]!;
    if (1 + k * sorted[k - 1]! > cumsum) {
      support = k;
      supportSum = cumsum;
    }
  }
  const tau = (supportSum - 1) / support;
  for (let j = 0; j < z.length; j++) z[j] = Math.max(0, z[j]! - tau);
}
