/**
 * `hitstream predict`: offline scoring of a Kaggle-format CSV, streamed in batches. Writes
 * track_id and one column per score (the four models, and the ensemble when the set has one); with a popularity column, reports RMSE/MAE/R2 per model.
 * A bad row stops nothing: it is reported with its row number and column and left out.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { countRows, readKaggleCsv, type KaggleTrack } from '../lib/kaggle-csv.ts';
import { ProgressReporter } from '../lib/progress.ts';
import type { ScoreName } from '../schemas/prediction.ts';
import { type Metrics, regressionMetrics } from './metrics.ts';
import type { LoadedModels } from './model-set.ts';

export interface PredictCsvResult {
  rows: number;
  badRows: { row: number; column: string; message: string }[];
  metrics: Partial<Record<ScoreName, Metrics>> | undefined;
}

export async function predictCsv(
  models: LoadedModels,
  path: string,
  out: Writable | string,
  opts: { batchSize?: number; quiet?: boolean } = {},
): Promise<PredictCsvResult> {
  const sink = typeof out === 'string' ? createWriteStream(out) : out;
  const write = (s: string) =>
    new Promise<void>((resolve, reject) =>
      sink.write(s) ? resolve() : sink.once('drain', resolve).once('error', reject),
    );
  const names = models.scoreNames;
  await write(`track_id,${names.join(',')}\n`);
  const batchSize = opts.batchSize ?? 1024;
  const progress = opts.quiet ? undefined : new ProgressReporter('predict', await countRows(path));
  const result: PredictCsvResult = { rows: 0, badRows: [], metrics: undefined };
  const truth: number[] = [];
  const preds = Object.fromEntries(names.map((m) => [m, [] as number[]])) as Record<ScoreName, number[]>;
  let labelled = true;
  let batch: KaggleTrack[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const p = await models.predictBatch(batch);
    const lines = batch.map((t, i) => {
      if (t.popularity === undefined) labelled = false;
      else truth.push(t.popularity);
      for (const m of names) preds[m].push(p.scores[m]![i]!);
      return `${/[",\n]/.test(t.track_id) ? JSON.stringify(t.track_id) : t.track_id},${names.map((m) => p.scores[m]![i]!.toFixed(3)).join(',')}`;
    });
    await write(`${lines.join('\n')}\n`);
    result.rows += batch.length;
    progress?.update(result.rows);
    batch = [];
  };
  for await (const r of readKaggleCsv(path)) {
    if (!r.ok) {
      result.badRows.push({ row: r.row, column: r.column, message: r.message });
      continue;
    }
    batch.push(r.track);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (typeof out === 'string') await new Promise((r) => sink.end(r));
  if (labelled && truth.length)
    result.metrics = Object.fromEntries(names.map((m) => [m, regressionMetrics(truth, preds[m])]));
  progress?.done(`${result.rows} rows scored, ${result.badRows.length} bad rows skipped`);
  return result;
}
