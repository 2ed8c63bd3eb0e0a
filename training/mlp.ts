/**
 * The MLP's training half. The original's network was dense 64 + batch norm, dense 96 + batch
 * norm + dropout 0.1, Adam lr 5e-4; this one is wider and deeper (128-128-64), trained on a
 * standardized target with early stopping on a validation slice of the training part.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardize } from '../models/features.ts';
import { buildMlp, MLP_FILE, mlpScorer, type MlpParams } from '../models/mlp/index.ts';
import { saveTensors } from '../models/tensor-file.ts';
import { tf, tfReady } from '../models/tf-backend.ts';
import {
  epochOrder,
  gatherRows,
  permutationImportance,
  targetScale,
  validationSplit,
} from './nn-training.ts';
import { rng } from './split.ts';
import type { ModelTrainer } from './trainer.ts';

export const MLP_DEFAULTS: MlpParams = {
  layers: [128, 128, 64],
  dropout: 0.1,
  learningRate: 1e-3,
  batchSize: 512,
  epochs: 20,
  patience: 4,
};

export function mlpTrainer(params: Partial<MlpParams> = {}): ModelTrainer {
  const p = { ...MLP_DEFAULTS, ...params };
  return {
    name: 'mlp',
    async train(data, progress) {
      const backend = await tfReady();
      const { f, preprocessing: pre } = data;
      const scale = targetScale(data.y);
      const Z = standardize(data.X, pre);
      const n = data.y.length;
      const random = rng(data.seed);
      const holdOut = p.holdOut !== false;
      const { valIdx, trainIdx } = holdOut
        ? validationSplit(n, random, data.groups, data.seed)
        : { valIdx: new Int32Array(0), trainIdx: Int32Array.from({ length: n }, (_, i) => i) };
      const nVal = valIdx.length;
      const yz = data.y.map((v) => (v - scale.mean) / scale.std);
      const xVal = tf.tensor2d(gatherRows(Z, f, valIdx, 0, nVal), [nVal, f]);
      const yVal = tf.tensor2d(
        Float32Array.from(valIdx, (i) => yz[i]!),
        [nVal, 1],
      );
      const model = buildMlp(f, p, data.seed);
      model.compile({ optimizer: tf.train.adam(p.learningRate), loss: 'meanSquaredError' });
      let best = Infinity;
      let bestEpoch = p.epochs;
      let bestWeights: tf.Tensor[] = [];
      let stale = 0;
      const t0 = performance.now();
      for (let epoch = 1; epoch <= p.epochs; epoch++) {
        const idx = epochOrder(trainIdx.length, random).map((k) => trainIdx[k]!);
        const xs = tf.tensor2d(gatherRows(Z, f, idx, 0, idx.length), [idx.length, f]);
        const ys = tf.tensor2d(
          Float32Array.from(idx, (i) => yz[i]!),
          [idx.length, 1],
        );
        const h = await model.fit(xs, ys, { batchSize: p.batchSize, epochs: 1, shuffle: false, verbose: 0 });
        xs.dispose();
        ys.dispose();
        const secs = (performance.now() - t0) / 1000;
        const loss = Number(h.history.loss?.[0]);
        const eta = `ETA ${((secs / epoch) * (p.epochs - epoch)).toFixed(0)} s`;
        if (!holdOut) {
          progress(
            epoch / p.epochs,
            `epoch ${epoch}/${p.epochs}, loss ${loss.toFixed(4)} (${backend}), ${eta}`,
          );
          continue;
        }
        const val = tf.tidy(
          () => (model.evaluate(xVal, yVal, { batchSize: 4096 }) as tf.Scalar).dataSync()[0]!,
        );
        if (val < best - 1e-4) {
          best = val;
          bestEpoch = epoch;
          stale = 0;
          bestWeights.forEach((w) => w.dispose());
          bestWeights = model.getWeights().map((w) => w.clone());
        } else stale++;
        progress(
          epoch / p.epochs,
          `epoch ${epoch}/${p.epochs}, loss ${loss.toFixed(4)}, val RMSE ${(Math.sqrt(val) * scale.std).toFixed(3)} (${backend}), ${eta}`,
        );
        if (stale >= p.patience) {
          progress(
            1,
            `early stop after epoch ${epoch}: best val RMSE ${(Math.sqrt(best) * scale.std).toFixed(3)}`,
          );
          break;
        }
      }
      if (holdOut) model.setWeights(bestWeights);
      const valPred = holdOut
        ? ((await (model.predict(xVal) as tf.Tensor).data()) as Float32Array)
        : undefined;
      xVal.dispose();
      yVal.dispose();
      const s = mlpScorer(model, pre, scale);
      return {
        scorer: s,
        importance: await permutationImportance((X) => s.predict(X), data.X, data.y, f, data.seed),
        hyperparameters: { ...p, ...(holdOut ? { bestEpoch } : {}), backend, targetScale: scale },
        refitKind: mlpTrainer({ ...params, epochs: bestEpoch, holdOut: false }),
        ...(valPred
          ? { validation: { rows: [...valIdx], predictions: valPred.map((v) => v * scale.std + scale.mean) } }
          : {}),
        async save(dir) {
          const tensors = Object.fromEntries(model.getWeights().map((w, i) => [`w${i}`, w]));
          const files = await saveTensors(dir, tensors);
          await writeFile(
            join(dir, MLP_FILE),
            JSON.stringify({ params: p, scale, seed: data.seed }, null, 2),
          );
          return [...files, MLP_FILE];
        },
      };
    },
  };
}
