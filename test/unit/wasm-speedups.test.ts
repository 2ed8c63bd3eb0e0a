/** The wasm kernel and gradient replacements compute what they replace (see models/wasm-speedups.ts). */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { tf, tfReady } from '../../models/tf-backend.ts';

before(async () => {
  assert.equal(await tfReady(), 'wasm', 'these tests are about the wasm backend');
});

/** Plain triple-loop product of row-major matrices, the reference. */
function reference(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}
const transpose = (m: number[][]) => m[0]!.map((_, j) => m.map((row) => row[j]!));
const random = (r: number, c: number, seed: number) =>
  (tf.randomNormal([r, c], 0, 1, 'float32', seed).arraySync() as number[][]).map((row) => row.slice());

function assertClose(actual: number[][], expected: number[][], what: string) {
  actual.forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i]![j]!) < 1e-4, `${what} [${i},${j}]: ${v} vs ${expected[i]![j]}`),
    ),
  );
}

test('matMul with every combination of transposed operands equals the reference product', () => {
  const a = random(5, 3, 1);
  const b = random(3, 4, 2);
  const expected = reference(a, b);
  for (const ta of [false, true])
    for (const tb of [false, true]) {
      const A = tf.tensor2d(ta ? transpose(a) : a);
      const B = tf.tensor2d(tb ? transpose(b) : b);
      assertClose(tf.matMul(A, B, ta, tb).arraySync() as number[][], expected, `matMul ta=${ta} tb=${tb}`);
      const fused = tf.fused.matMul({
        a: A,
        b: B,
        transposeA: ta,
        transposeB: tb,
        bias: tf.ones([4]),
        activation: 'relu',
      });
      assertClose(
        fused.arraySync() as number[][],
        expected.map((r) => r.map((v) => Math.max(0, v + 1))),
        `fused ta=${ta} tb=${tb}`,
      );
    }
});

test('batched (3-D) transposed matMul equals the reference per batch', () => {
  const a = [random(2, 3, 3), random(2, 3, 4)];
  const b = [random(4, 3, 5), random(4, 3, 6)];
  const out = tf.matMul(tf.tensor3d(a), tf.tensor3d(b), false, true).arraySync() as number[][][];
  out.forEach((m, k) => assertClose(m, reference(a[k]!, transpose(b[k]!)), `batch ${k}`));
});

test('batch-norm gradients match finite differences for x, scale and offset', () => {
  const x = tf.randomNormal([6, 4], 0, 1, 'float32', 11);
  const scale = tf.randomNormal([4], 1, 0.3, 'float32', 12);
  const offset = tf.randomNormal([4], 0, 1, 'float32', 13);
  const w = tf.randomNormal([6, 4], 0, 1, 'float32', 14);
  // Mean and variance computed from x, as a batch-norm layer does while training.
  const loss = (xx: tf.Tensor, s: tf.Tensor, o: tf.Tensor) => {
    const m = tf.moments(xx, 0);
    return tf.sum<tf.Scalar>(
      tf.mul(w, tf.batchNorm(xx, m.mean, m.variance, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3)),
    );
  };
  const args = [x, scale, offset] as const;
  const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => loss(a, b, c))([...args]);
  args.forEach((t, k) => {
    const flat = t.dataSync();
    const analytic = grads[k]!.dataSync();
    for (let i = 0; i < flat.length; i++) {
      const at = (delta: number) => {
        const moved = Float32Array.from(flat);
        moved[i]! += delta;
        const call = args.map((u, j) => (j === k ? tf.tensor(moved, t.shape) : u));
        return loss(call[0]!, call[1]!, call[2]!).dataSync()[0]!;
      };
      const numeric = (at(1e-2) - at(-1e-2)) / 2e-2;
      assert.ok(
        Math.abs(numeric - analytic[i]!) < 2e-3,
        `input ${k}, element ${i}: ${analytic[i]} vs ${numeric}`,
      );
    }
  });
});
