/**
 * Two places where TensorFlow.js 4.22 on the wasm backend spends most of a training step for
 * nothing, measured on the MLP (512-row batches, 128-128-64): 91 ms per step before, see
 * `installWasmSpeedups` for after.
 *
 * 1. tfjs-backend-wasm multiplies with a transposed operand about 10x slower than without one
 * (512x128 by 128x128 on this machine: 1.1 ms plain, 14.5 ms with transposeB), and every dense
 * layer's backward pass asks for exactly that (dX = dY·Wᵀ, dW = Xᵀ·dY). Transposing explicitly
 * (0.5 ms) and multiplying plainly is ~9x faster, so both matmul kernels are wrapped to do that.
 * Results are identical up to float rounding; only the memory layout of the operands changes.
 *
 * 2. The batch-norm gradient in tfjs-core tiles 1/sqrt(var) to the batch's shape before a
 * multiply that would broadcast anyway, and wasm's Tile is a slow generic loop (23 ms of the
 * step). The replacement gradient below is the same derivative with broadcasting.
 */
import * as tf from '@tensorflow/tfjs';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;

const WRAPPED = ['BatchMatMul', '_FusedMatMul'] as const;
let installed = false;

/** Installs both; call once after the wasm backend is set. */
export function installWasmSpeedups(): void {
  installFastTransposedMatMul();
  tf.registerGradient(batchNormGradient);
}

function installFastTransposedMatMul(): void {
  if (installed) return;
  installed = true;
  const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
  for (const name of WRAPPED) {
    const original = tf.getKernel(name, 'wasm');
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      ...original,
      kernelFunc: (args: KernelArgs) => {
        const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
        if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args);
        const temporaries: Info[] = [];
        const flip = (x: Info, needed: boolean | undefined): Info => {
          if (!needed) return x;
          const perm = x.shape.map((_, i) => i);
          const r = perm.length;
          [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
          const t = transpose({ inputs: { x }, backend: args.backend, attrs: { perm } }) as Info;
          temporaries.push(t);
          return t;
        };
        const inputs = args.inputs as Record<string, Info>;
        const out = original.kernelFunc({
          ...args,
          inputs: { ...inputs, a: flip(inputs.a!, attrs.transposeA), b: flip(inputs.b!, attrs.transposeB) },
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
        });
        for (const t of temporaries) (args.backend as tf.KernelBackend).disposeData(t.dataId);
        return out;
      },
    });
  }
}

/**
 * y = (x - mean) · r · scale + offset with r = 1/sqrt(variance + ε). Mean and variance arrive as
 * inputs (the layer computed them from x with ops that have their own gradients), so each input's
 * derivative is the plain partial one, summed over the axes the input was broadcast along.
 */
const batchNormGradient: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const dyT = dy as tf.Tensor;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor?];
    const epsilon = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const r = tf.rsqrt(tf.add(variance, epsilon));
    const centred = tf.sub(x, mean);
    const dyScaled = scale ? tf.mul(dyT, scale) : dyT;
    const toShapeOf = (g: tf.Tensor, like: tf.Tensor) => {
      const axes = reducedAxes(like.shape, x.shape);
      return tf.reshape(axes.length ? tf.sum(g, axes) : g, like.shape);
    };
    return {
      x: () => tf.mul(dyScaled, r),
      mean: () => toShapeOf(tf.neg(tf.mul(dyScaled, r)), mean),
      variance: () => toShapeOf(tf.mul(tf.mul(dyScaled, centred), tf.mul(tf.pow(r, 3), -0.5)), variance),
      scale: () => toShapeOf(tf.mul(dyT, tf.mul(centred, r)), scale ?? mean),
      offset: () => toShapeOf(dyT, mean),
    };
  },
};

/** Axes of `full` along which a tensor of shape `small` was broadcast (numpy rules). */
function reducedAxes(small: number[], full: number[]): number[] {
  const axes: number[] = [];
  for (let i = 0; i < full.length; i++) {
    const j = i - (full.length - small.length);
    if (j < 0 || (small[j] === 1 && full[i] !== 1)) axes.push(i);
  }
  return axes;
}
