/**
 * The MLP as served: a TensorFlow.js network (128-128-64 with batch norm, trained by
 * training/mlp.ts), scored through a graph with the batch norms folded into the dense layers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardize, type Preprocessing } from '../features.ts';
import type { ModelLoader, Scorer } from '../model.ts';
import { loadTensors } from '../tensor-file.ts';
import { tf, tfReady } from '../tf-backend.ts';
import { buildMlpScoringGraph } from './scoring-graph.ts';

export const MLP_FILE = 'mlp.json';

export interface MlpParams {
  layers: number[];
  dropout: number;
  learningRate: number;
  batchSize: number;
  epochs: number;
  patience: number;
  /**
   * false: train on every row for exactly `epochs`, watching nothing (a refit, with the epoch
   * count the held-out fit stopped at).
   */
  holdOut?: boolean;
}
export function buildMlp(f: number, p: MlpParams, seed: number): tf.Sequential {
  const m = tf.sequential();
  p.layers.forEach((units, i) => {
    m.add(
      tf.layers.dense({
        units,
        inputShape: i === 0 ? [f] : undefined,
        kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
      }),
    );
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.activation({ activation: 'relu' }));
    if (p.dropout > 0 && i === 1) m.add(tf.layers.dropout({ rate: p.dropout }));
  });
  m.add(tf.layers.dense({ units: 1 }));
  return m;
}

export function mlpScorer(
  model: tf.LayersModel,
  pre: Preprocessing,
  scale: { mean: number; std: number },
): Scorer {
  const f = pre.features.length;
  const graph = buildMlpScoringGraph(model);
  return {
    name: 'mlp',
    async predict(X) {
      const input = tf.tensor3d(standardize(X, pre), [1, X.length / f, f]);
      const out = tf.tidy(() => graph.forward(input));
      const raw = (await out.data()) as Float32Array;
      tf.dispose([input, out]);
      return raw.map((v) => v * scale.std + scale.mean);
    },
  };
}

export const mlpLoader: ModelLoader = {
  name: 'mlp',
  async load(dir, pre) {
    const { model, scale } = await loadMlp(dir, pre);
    return mlpScorer(model, pre, scale);
  },
};

/** The trained Layers model and its target scale from a model directory. */
export async function loadMlp(dir: string, pre: Preprocessing) {
  await tfReady();
  const meta = JSON.parse(await readFile(join(dir, MLP_FILE), 'utf8')) as {
    params: MlpParams;
    scale: { mean: number; std: number };
    seed: number;
  };
  const model = buildMlp(pre.features.length, meta.params, meta.seed);
  const w = await loadTensors(dir);
  model.setWeights(
    Object.keys(w)
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((k) => w[k]!),
  );
  return { model, scale: meta.scale };
}
