/**
 * The MLP's scoring pass as one fused matMul per dense layer: each batch norm folded into the
 * dense layer before it (`../batch-norm-folding.ts`), each ReLU fused into the multiply, dropout
 * (the identity when scoring) left out. `model.predict` ran a dense, a batch norm and an
 * activation per layer through the Layers API, ~0.8 ms for one row; this is four kernels.
 * `model.predict` stays the reference: the unit tests check both give the same scores.
 */
import {
  type DenseArrays,
  type DenseTensors,
  dense,
  denseTensors,
  foldBatchNorm,
} from '../batch-norm-folding.ts';
import { tf } from '../tf-backend.ts';

interface Layer {
  weights: DenseArrays;
  activation: 'linear' | 'relu';
}

export interface MlpScoringGraph {
  /** x: 1 × n × f standardized rows → 1 × n × 1 standardized scores. */
  forward(x: tf.Tensor3D): tf.Tensor3D;
  dispose(): void;
}

export function buildMlpScoringGraph(model: tf.LayersModel): MlpScoringGraph {
  const layers: Layer[] = [];
  const last = (what: string) => {
    const l = layers.at(-1);
    if (!l) throw new Error(`MLP: a ${what} layer before any dense layer`);
    return l;
  };
  for (const layer of model.layers) {
    const kind = layer.getClassName();
    const config = layer.getConfig();
    const values = layer.getWeights().map((w) => w.dataSync() as Float32Array);
    if (kind === 'Dense') {
      const [w, b] = values as [Float32Array, Float32Array?];
      const outputs = config.units as number;
      if (config.activation !== 'linear' || !b)
        throw new Error('MLP: scoring graph expects dense layers with a bias and no activation');
      layers.push({ weights: { w, b, inputs: w.length / outputs, outputs }, activation: 'linear' });
    } else if (kind === 'BatchNormalization') {
      const [gamma, beta, mean, variance] = values as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const l = last(kind);
      l.weights = foldBatchNorm(l.weights, {
        gamma,
        beta,
        mean,
        variance,
        epsilon: config.epsilon as number,
      });
    } else if (kind === 'Activation' && config.activation === 'relu') last(kind).activation = 'relu';
    else if (kind !== 'Dropout') throw new Error(`MLP: no scoring graph for a ${kind} layer`);
  }
  const compiled: (DenseTensors & { activation: Layer['activation'] })[] = layers.map((l) => ({
    ...denseTensors(l.weights),
    activation: l.activation,
  }));
  return {
    forward: (x) => compiled.reduce((h, l) => dense(h, l, l.activation), x),
    dispose: () => tf.dispose(compiled.flatMap((l) => [l.w, l.b])),
  };
}
