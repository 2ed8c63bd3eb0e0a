/** TabNet as served: scoring, and per-row feature masks (its own explanation). Trained by training/tabnet.ts. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardize, type Preprocessing } from '../features.ts';
import type { LoadOptions, ModelLoader, Scorer } from '../model.ts';
import { loadTensors } from '../tensor-file.ts';
import { tf, tfReady } from '../tf-backend.ts';
import { TabNet, type TabNetParams } from './network.ts';
import { PLAIN_PASS_MAX_ROWS } from './plain-pass.ts';
import { buildTabNetScoringGraph } from './scoring-graph.ts';

export const TABNET_FILE = 'tabnet.json';

export interface TabNetScorer extends Scorer {
  /** Scores and aggregate feature masks (n × f, each row sums to 1). */
  explain(X: Float32Array): Promise<{ scores: Float32Array; masks: Float32Array }>;
}

/** `plainMaxRows`: batches up to this many rows skip TensorFlow.js (`./plain-pass.ts`); 0: none do. */
export function tabnetScorer(
  net: TabNet,
  pre: Preprocessing,
  scale: { mean: number; std: number },
  plainMaxRows = PLAIN_PASS_MAX_ROWS,
): TabNetScorer {
  const f = pre.features.length;
  const graph = buildTabNetScoringGraph(net);
  const explain = async (X: Float32Array) => {
    const rows = X.length / f;
    const z = graph.normalizeInput(standardize(X, pre));
    const { y, aggregate: masks } = rows <= plainMaxRows ? graph.forwardRows(z, rows) : await tfPass(z, rows);
    // Each row's feature use, in place, as shares that sum to 1.
    for (let r = 0; r < rows; r++) {
      const row = masks.subarray(r * f, (r + 1) * f);
      const total = row.reduce((s, v) => s + v, 0) + 1e-9;
      for (let j = 0; j < f; j++) row[j]! /= total;
    }
    return { scores: y.map((v) => v * scale.std + scale.mean), masks };
  };
  const tfPass = async (z: Float32Array, rows: number) => {
    const input = tf.tensor3d(z, [1, rows, f]);
    const { y, aggregate } = tf.tidy(() => graph.forward(input));
    const r = { y: (await y.data()) as Float32Array, aggregate: (await aggregate.data()) as Float32Array };
    tf.dispose([input, y, aggregate]);
    return r;
  };
  return { name: 'tabnet', explain, predict: async (X) => (await explain(X)).scores };
}

/** Loads TabNet with its `explain`, which the model set uses for the masks. */
export const tabnetLoader = {
  name: 'tabnet' as const,
  async load(dir: string, pre: Preprocessing, options: LoadOptions = {}): Promise<TabNetScorer> {
    const { net, scale } = await loadTabNet(dir, pre);
    return tabnetScorer(net, pre, scale, options.tabnetPass === 'tensorflow' ? 0 : PLAIN_PASS_MAX_ROWS);
  },
} satisfies ModelLoader;

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
