/**
 * Sparsemax (Martins & Astudillo, 2016): the Euclidean projection of z onto the probability
 * simplex, so some weights are exactly 0. TabNet uses it for its feature-selection masks.
 * tfjs has no gradient for topk, so the known closed-form Jacobian is supplied with customGrad:
 * dz = s ⊙ (g − Σ(g ⊙ s) / Σs), where s marks the support (outputs > 0).
 */
import { tf } from '../tf-backend.ts';

const forwardAndGrad = (z: tf.Tensor, save: tf.GradSaveFunc) => {
  const d = z.shape[1]!;
  const p = tf.tidy(() => {
    const sorted = tf.topk(z as tf.Tensor2D, d).values;
    const k = tf.range(1, d + 1, 1, 'float32');
    const cumsum = tf.cumsum(sorted, 1);
    const inSupport = tf.cast(tf.greater(tf.add(1, tf.mul(k, sorted)), cumsum), 'float32');
    const kz = tf.sum(inSupport, 1, true);
    const tau = tf.div(tf.sub(tf.sum(tf.mul(sorted, inSupport), 1, true), 1), kz);
    return tf.relu(tf.sub(z, tau));
  });
  save([p]);
  return {
    value: p,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const s = tf.cast(tf.greater(saved[0]!, 0), 'float32');
      const vhat = tf.div(tf.sum(tf.mul(dy, s), 1, true), tf.sum(s, 1, true));
      return [tf.mul(s, tf.sub(dy, vhat))];
    },
  };
};

export const sparsemax = tf.customGrad(forwardAndGrad as unknown as Parameters<typeof tf.customGrad>[0]);
