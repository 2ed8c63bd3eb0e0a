/** TabNet as served: scoring, and per-row feature masks (its own explanation). Trained by training/tabnet.ts. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardize, type Preprocessing } from '../features.ts';
import type { ModelLoader, Scorer } from '../model.ts';
import { loadTensors } from '../tensor-file.ts';
import { tf, tfReady } from '../tf-backend.ts';
import { TabNet, type TabNetParams } from './network.ts';
import { buildTabNetScoringGraph } from './scoring-graph.ts';

export const TABNET_FILE = 'tabnet.json';

export interface TabNetScorer extends Scorer {
  /** Scores and aggregate feature masks (n × f, each row sums to 1). */
  explain(X: Float32Array): Promise<{ scores: Float32Array; masks: Float32Array }>;
}

export function tabnetScorer(
  net: TabNet,
  pre: Preprocessing,
  scale: { mean: number; std: number },
): TabNetScorer {
  const f = pre.features.length;
  const graph = buildTabNetScoringGraph(net);
  const explain = async (X: Float32Array) => {
    const input = tf.tensor3d(graph.normalizeInput(standardize(X, pre)), [1, X.length / f, f]);
    const { y, masks } = tf.tidy(() => {
      const r = graph.forward(input);
      return { y: r.y, masks: tf.div(r.aggregate, tf.add(tf.sum(r.aggregate, 2, true), 1e-9)) };
    });
    const scores = ((await y.data()) as Float32Array).map((v) => v * scale.std + scale.mean);
    const m = (await masks.data()) as Float32Array;
    tf.dispose([input, y, masks]);
    return { scores, masks: m };
  };
  return { name: 'tabnet', explain, predict: async (X) => (await explain(X)).scores };
}

/** Loads TabNet with its `explain`, which the model set uses for the masks. */
export const tabnetLoader: ModelLoader & { load(dir: string, pre: Preprocessing): Promise<TabNetScorer> } = {
  name: 'tabnet',
  async load(dir, pre) {
    const { net, scale } = await loadTabNet(dir, pre);
    return tabnetScorer(net, pre, scale);
  },
};

/** The trained network and its target scale from a model directory, checked against this code. */
export async function loadTabNet(dir: string, pre: Preprocessing) {
  await tfReady();
  const meta = JSON.parse(await readFile(join(dir, TABNET_FILE), 'utf8')) as {
    params: TabNetParams;
    scale: { mean: number; std: number };
    seed: number;
  };
  const net = new TabNet(pre.features.length, meta.params, meta.seed);
  const w = await loadTensors(dir);
  // Every variable from the file and no other: a partial match would score with random weights.
  const missing = Object.keys(net.vars).filter((k) => !w[k]);
  const unknown = Object.keys(w).filter((k) => !net.vars[k]);
  const misshapen = Object.keys(w).filter(
    (k) => net.vars[k] && net.vars[k].shape.join('x') !== w[k]!.shape.join('x'),
  );
  if (missing.length || unknown.length || misshapen.length) {
    tf.dispose(Object.values(w));
    throw new Error(
      `${dir}: the TabNet weights do not fit this version's network (missing: ${missing.slice(0, 3).join(', ') || 'none'}; unknown: ${unknown.slice(0, 3).join(', ') || 'none'}; wrong shape: ${misshapen.slice(0, 3).join(', ') || 'none'}); retrain with \`hitstream train --models tabnet\``,
    );
  }
  for (const [k, t] of Object.entries(w)) net.vars[k]!.assign(t);
  tf.dispose(Object.values(w));
  return { net, scale: meta.scale };
}
