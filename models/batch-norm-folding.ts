/**
 * Folding a scoring-mode batch norm into the dense layer before it, the usual inference rewrite:
 *
 *   BN(x·W + b) = (x·W + b − mean) · s + beta,  s = gamma / √(variance + ε)
 *               = x·(W·diag(s)) + ((b − mean) · s + beta)
 *
 * One fused matMul (with bias and activation) then does what took a matMul, a batch norm and an
 * activation. On the wasm backend each TensorFlow.js op costs ~10 µs whatever its size, so at the
 * batch sizes the workers and `/predict` see the op count, not the arithmetic, sets the time.
 */
import { tf } from './tf-backend.ts';

export interface BatchNormStats {
  gamma: Float32Array;
  beta: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** A dense layer as plain arrays: `w` row-major [inputs × outputs], `b` per output. */
export interface DenseArrays {
  w: Float32Array;
  b: Float32Array;
  inputs: number;
  outputs: number;
}

export function foldBatchNorm(dense: DenseArrays, bn: BatchNormStats): DenseArrays {
  const { inputs, outputs } = dense;
  const w = new Float32Array(dense.w.length);
  const b = new Float32Array(outputs);
  for (let j = 0; j < outputs; j++) {
    const s = bn.gamma[j]! / Math.sqrt(bn.variance[j]! + bn.epsilon);
    b[j] = (dense.b[j]! - bn.mean[j]!) * s + bn.beta[j]!;
    for (let i = 0; i < inputs; i++) w[i * outputs + j] = dense.w[i * outputs + j]! * s;
  }
  return { w, b, inputs, outputs };
}

/** Columns [from, from + count) of a dense layer, as a layer of its own. */
export function denseColumns(dense: DenseArrays, from: number, count: number): DenseArrays {
  const w = new Float32Array(dense.inputs * count);
  for (let i = 0; i < dense.inputs; i++)
    w.set(dense.w.subarray(i * dense.outputs + from, i * dense.outputs + from + count), i * count);
  return { w, b: dense.b.slice(from, from + count), inputs: dense.inputs, outputs: count };
}

/** The layer with its outputs multiplied by `k` (k > 0 commutes with ReLU). */
export function scaleDense(dense: DenseArrays, k: number): DenseArrays {
  return { ...dense, w: dense.w.map((v) => v * k), b: dense.b.map((v) => v * k) };
}

/** The two tensors the fused matMul kernel needs; the weights 3-D, as the kernel takes them. */
export interface DenseTensors {
  w: tf.Tensor3D;
  b: tf.Tensor1D;
}

export function denseTensors(dense: DenseArrays): DenseTensors {
  return { w: tf.tensor3d(dense.w, [1, dense.inputs, dense.outputs]), b: tf.tensor1d(dense.b) };
}

/**
 * x (1 × rows × inputs) → activation(x·W + b) (1 × rows × outputs), one kernel. `tf.fused.matMul`
 * would reshape both operands to 3-D and the result back: three more kernels per layer, which
 * on a one-row call cost more than the multiply. So the scoring graphs keep their activations
 * 3-D (a batch of one matrix) and run the kernel directly.
 */
export function dense(
  x: tf.Tensor3D,
  layer: DenseTensors,
  activation: 'linear' | 'relu' | 'sigmoid' = 'linear',
): tf.Tensor3D {
  return tf
    .engine()
    .runKernel<tf.Tensor3D>(
      tf._FusedMatMul,
      { a: x, b: layer.w, bias: layer.b },
      { transposeA: false, transposeB: false, activation },
    );
}
