/**
 * Dynamic batching for `POST /predict`, as Triton's dynamic batcher and BentoML's adaptive batching
 * do: requests for the same model set that arrive while a batch is being scored (or in the same
 * event-loop turn, or within `windowMs`) are scored together, one call per model, and each gets
 * its own row back. A model call costs about the same for 1 row as for 50 (TabNet ~1.1 ms), so
 * under load the API answers many requests for the price of one; a lone request waits for nothing.
 */
import type { BatchPrediction, LoadedModels } from '../models/model-set.ts';
import type { FeatureRow } from '../models/features.ts';

/** One request's share of a batch: its scores, its TabNet mask, and the batch's per-row timings. */
export interface RowPrediction {
  names: BatchPrediction['names'];
  scores: Record<string, number>;
  mask: Float32Array;
  inferenceUs: BatchPrediction['inferenceUs'];
  /** How many requests were scored with this one. */
  batchSize: number;
}

interface Waiting {
  row: FeatureRow;
  resolve: (p: RowPrediction) => void;
  reject: (err: unknown) => void;
}

interface Queue {
  waiting: Waiting[];
  scoring: boolean;
  /** Cancels the flush that is scheduled, when one is. */
  cancel?: () => void;
}

/** Row `i` of a batch prediction. */
function rowOf(p: BatchPrediction, i: number, n: number): RowPrediction {
  const nFeatures = n ? p.tabnetMasks.length / n : 0;
  return {
    names: p.names,
    scores: Object.fromEntries(p.names.map((m) => [m, p.scores[m]![i]!])),
    mask: p.tabnetMasks.subarray(i * nFeatures, (i + 1) * nFeatures),
    inferenceUs: p.inferenceUs,
    batchSize: n,
  };
}

export function createPredictBatcher(opts: { maxBatch: number; windowMs: number }) {
  // One queue per model set: a request for the shadow version is never scored by live's models.
  const queues = new WeakMap<LoadedModels, Queue>();

  async function flush(models: LoadedModels, q: Queue) {
    q.cancel?.();
    q.cancel = undefined;
    if (q.scoring || !q.waiting.length) return;
    const batch = q.waiting.splice(0, opts.maxBatch);
    q.scoring = true;
    try {
      const p = await models.predictBatch(batch.map((w) => w.row));
      batch.forEach((w, i) => w.resolve(rowOf(p, i, batch.length)));
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      q.scoring = false;
      // What arrived meanwhile goes at once: it has waited for this batch already.
      if (q.waiting.length) schedule(models, q, 0);
    }
  }

  function schedule(models: LoadedModels, q: Queue, windowMs: number) {
    if (q.cancel || q.scoring) return;
    const run = () => void flush(models, q);
    if (windowMs > 0) {
      const t = setTimeout(run, windowMs);
      q.cancel = () => clearTimeout(t);
    } else {
      // After this turn's I/O: requests parsed in the same turn join the batch.
      const t = setImmediate(run);
      q.cancel = () => clearImmediate(t);
    }
  }

  return {
    score(models: LoadedModels, row: FeatureRow): Promise<RowPrediction> {
      let q = queues.get(models);
      if (!q) queues.set(models, (q = { waiting: [], scoring: false }));
      const queue = q;
      return new Promise((resolve, reject) => {
        queue.waiting.push({ row, resolve, reject });
        if (queue.waiting.length >= opts.maxBatch && !queue.scoring) void flush(models, queue);
        else schedule(models, queue, opts.windowMs);
      });
    },
  };
}

export type PredictBatcher = ReturnType<typeof createPredictBatcher>;
