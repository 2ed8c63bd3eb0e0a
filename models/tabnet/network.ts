/**
 * TabNet (Arik & Pfister, 2019) in TensorFlow.js: sequential attention over the features.
 *
 *   x → ghost batch norm → feature transformer (step 0) → a₀
 *   for step i = 1..N:
 *     mask Mᵢ = sparsemax(GBN(FC(aᵢ₋₁)) · prior)      attentive transformer
 *     prior ← prior · (γ − Mᵢ)                         relaxation factor γ
 *     [dᵢ, aᵢ] = feature transformer(Mᵢ · x)           2 shared + 2 step-specific GLU blocks
 *     out += ReLU(dᵢ)
 *   ŷ = FC(out);  loss = MSE + λ · mean entropy of the masks  (sparsity regularisation)
 *
 * GLU block: FC → ghost batch norm → GLU; blocks after the first are residual, scaled by √0.5.
 * Ghost batch norm normalises each virtual batch of `virtualBatch` rows on its own while training
 * and uses running averages when scoring. The aggregate mask Σᵢ ηᵢ·Mᵢ with ηᵢ = Σ ReLU(dᵢ)
 * explains a prediction: how much each feature was used for that row.
 */
import { tf } from '../tf-backend.ts';
import { sparsemax } from './sparsemax.ts';

export interface TabNetParams {
  nD: number;
  nA: number;
  nSteps: number;
  gamma: number;
  nShared: number;
  nIndependent: number;
  virtualBatch: number;
  momentum: number;
  lambdaSparse: number;
  mask: 'sparsemax' | 'softmax';
}

type Vars = Record<string, tf.Variable>;

export class TabNet {
  readonly vars: Vars = {};
  private readonly f: number;

  constructor(
    f: number,
    readonly p: TabNetParams,
    seed: number,
  ) {
    this.f = f;
    const width = 2 * (p.nD + p.nA);
    let s = seed;
    const glorot = (shape: [number, number]) =>
      tf.variable(tf.randomNormal(shape, 0, Math.sqrt(2 / (shape[0] + shape[1])), 'float32', s++));
    const bn = (name: string, d: number) => {
      this.vars[`${name}.gamma`] = tf.variable(tf.ones([d]));
      this.vars[`${name}.beta`] = tf.variable(tf.zeros([d]));
      this.vars[`${name}.mean`] = tf.variable(tf.zeros([d]), false);
      this.vars[`${name}.var`] = tf.variable(tf.ones([d]), false);
    };
    bn('input', f);
    for (let l = 0; l < p.nShared; l++) {
      this.vars[`shared${l}.w`] = glorot([l === 0 ? f : p.nD + p.nA, width]);
      bn(`shared${l}`, width);
    }
    for (let step = 0; step <= p.nSteps; step++) {
      for (let l = 0; l < p.nIndependent; l++) {
        this.vars[`step${step}.glu${l}.w`] = glorot([p.nD + p.nA, width]);
        bn(`step${step}.glu${l}`, width);
      }
      if (step > 0) {
        this.vars[`att${step}.w`] = glorot([p.nA, f]);
        bn(`att${step}`, f);
      }
    }
    this.vars['out.w'] = glorot([p.nD, 1]);
    this.vars['out.b'] = tf.variable(tf.zeros([1]));
  }

  private v(name: string): tf.Variable {
    const v = this.vars[name];
    if (!v) throw new Error(`TabNet: no variable ${name}`);
    return v;
  }

  /** A weight matrix, typed as the 2-D tensor it is. */
  private w(name: string): tf.Tensor2D {
    return this.v(name) as unknown as tf.Tensor2D;
  }

  /** Ghost batch norm; in training also moves the running averages. */
  private gbn(name: string, x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const gamma = this.v(`${name}.gamma`) as tf.Tensor1D;
    const beta = this.v(`${name}.beta`) as tf.Tensor1D;
    if (!training)
      return tf.batchNorm2d(
        x,
        this.v(`${name}.mean`) as tf.Tensor1D,
        this.v(`${name}.var`) as tf.Tensor1D,
        beta,
        gamma,
        1e-5,
      );
    const [b, d] = x.shape;
    const vb = Math.min(this.p.virtualBatch, b);
    const chunks = Math.max(1, Math.floor(b / vb));
    const xs = tf.reshape(x.slice([0, 0], [chunks * vb, d]), [chunks, vb, d]);
    const { mean, variance } = tf.moments(xs, 1, true);
    const normed = tf.reshape(tf.div(tf.sub(xs, mean), tf.sqrt(tf.add(variance, 1e-5))), [chunks * vb, d]);
    const whole = tf.moments(x, 0);
    const m = this.p.momentum;
    tf.tidy(() => {
      this.v(`${name}.mean`).assign(tf.add(tf.mul(this.v(`${name}.mean`), 1 - m), tf.mul(whole.mean, m)));
      this.v(`${name}.var`).assign(tf.add(tf.mul(this.v(`${name}.var`), 1 - m), tf.mul(whole.variance, m)));
    });
    return tf.add<tf.Tensor2D>(tf.mul(normed, gamma), beta);
  }

  private glu(name: string, x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const h = this.gbn(name, tf.matMul(x, this.w(`${name}.w`)), training);
    const half = this.p.nD + this.p.nA;
    return tf.mul(h.slice([0, 0], [-1, half]), tf.sigmoid(h.slice([0, half], [-1, half])));
  }

  private featureTransformer(step: number, x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const names = [
      ...Array.from({ length: this.p.nShared }, (_, l) => `shared${l}`),
      ...Array.from({ length: this.p.nIndependent }, (_, l) => `step${step}.glu${l}`),
    ];
    let h = this.glu(names[0]!, x, training);
    for (const name of names.slice(1)) h = tf.mul(tf.add(h, this.glu(name, h, training)), Math.SQRT1_2);
    return h;
  }

  /** Rows that ghost batch norm used (a whole number of virtual batches while training). */
  usedRows(b: number, training: boolean): number {
    if (!training) return b;
    const vb = Math.min(this.p.virtualBatch, b);
    return Math.max(1, Math.floor(b / vb)) * vb;
  }

  forward(xIn: tf.Tensor2D, training: boolean) {
    const x = this.gbn('input', xIn, training);
    const b = x.shape[0];
    let prior: tf.Tensor2D = tf.ones([b, this.f]);
    let a = this.featureTransformer(0, x, training).slice([0, this.p.nD], [-1, this.p.nA]);
    let out: tf.Tensor2D = tf.zeros([b, this.p.nD]);
    let aggregate: tf.Tensor2D = tf.zeros([b, this.f]);
    let entropy: tf.Scalar = tf.scalar(0);
    for (let step = 1; step <= this.p.nSteps; step++) {
      const logits = tf.mul(this.gbn(`att${step}`, tf.matMul(a, this.w(`att${step}.w`)), training), prior);
      const mask = (this.p.mask === 'sparsemax' ? sparsemax(logits) : tf.softmax(logits)) as tf.Tensor2D;
      prior = tf.mul(prior, tf.sub(this.p.gamma, mask));
      entropy = tf.add(entropy, tf.mean(tf.sum(tf.mul(tf.neg(mask), tf.log(tf.add(mask, 1e-15))), 1)));
      const h = this.featureTransformer(step, tf.mul(mask, x), training);
      const d = tf.relu(h.slice([0, 0], [-1, this.p.nD]));
      a = h.slice([0, this.p.nD], [-1, this.p.nA]);
      out = tf.add(out, d);
      aggregate = tf.add(aggregate, tf.mul(mask, tf.sum(d, 1, true)));
    }
    const y = tf.add<tf.Tensor2D>(tf.matMul(out, this.w('out.w')), this.v('out.b'));
    return { y, aggregate, sparsity: tf.div<tf.Scalar>(entropy, this.p.nSteps) };
  }

  trainableVariables(): tf.Variable[] {
    return Object.values(this.vars).filter((v) => v.trainable);
  }
}
