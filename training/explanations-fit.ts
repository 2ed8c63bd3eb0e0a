/**
 * Writes the set's explanations.json (models/explain/explanations-file.ts) once its models are
 * saved: a background sample of the shipped fits' rows, as served, for the networks' sampled
 * values; then the attribution reference, each score's mean |SHAP| per feature on other rows,
 * measured on the set as it will be served (loaded back from the folder).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { toMatrix } from '../models/features.ts';
import {
  BACKGROUND_ROWS,
  EXPLANATIONS_FILE,
  type ExplanationsFile,
  explanationsVersionFor,
  writeExplanations,
} from '../models/explain/explanations-file.ts';
import { loadModels } from '../models/model-set.ts';
import { MODEL_NAMES, type ScoreName } from '../schemas/prediction.ts';
import type { TrainOptions } from './options.ts';
import { type TrainReport, versionId } from './results.ts';
import type { TrainingRow } from './rows.ts';
import { rng, shuffle } from './split.ts';

/** Training rows explained for the reference (the forest takes ~0.1 s a row). */
export const REFERENCE_ROWS = 200;

export async function writeExplanationsFile(
  rows: TrainingRow[],
  report: TrainReport,
  opts: TrainOptions,
  outDir: string,
): Promise<void> {
  if (MODEL_NAMES.some((m) => !opts.models.includes(m))) {
    await rm(join(outDir, EXPLANATIONS_FILE), { force: true });
    opts.log('  grouped/explanations: not written (it needs all four models in one run)');
    return;
  }
  const picked = shuffle([...rows], rng(opts.seed + 7)).slice(0, BACKGROUND_ROWS + REFERENCE_ROWS);
  const bare = await loadModels(outDir);
  const pre = bare.manifests.rf.preprocessing;
  const f = pre.features.length;
  const matrixRows = (X: Float32Array) =>
    Array.from({ length: X.length / f }, (_, i) => Array.from(X.subarray(i * f, i * f + f)));
  const file: ExplanationsFile = {
    version: explanationsVersionFor(versionId(report, opts.seed)),
    features: [...pre.features],
    background: matrixRows(toMatrix(picked.slice(0, BACKGROUND_ROWS), pre)),
    reference: { rows: 0, meanAbs: {} },
  };
  await writeExplanations(outDir, file);
  const set = await loadModels(outDir);
  const referenceRows = picked.slice(BACKGROUND_ROWS);
  const sums: Partial<Record<ScoreName, Float64Array>> = {};
  const t0 = performance.now();
  for (let i = 0; i < referenceRows.length; i += 20) {
    const { explanations } = await set.explain(referenceRows.slice(i, i + 20));
    for (const row of explanations)
      for (const [score, e] of Object.entries(row) as [ScoreName, { contributions: number[] }][]) {
        const s = (sums[score] ??= new Float64Array(f));
        e.contributions.forEach((v, j) => (s[j]! += Math.abs(v)));
      }
    const done = Math.min(referenceRows.length, i + 20);
    const s = (performance.now() - t0) / 1000;
    opts.log(
      `  grouped/explanations: ${done}/${referenceRows.length} reference rows explained, ${(done / s).toFixed(1)} rows/s, ETA ${(((referenceRows.length - done) * s) / done).toFixed(0)} s`,
    );
  }
  file.reference = {
    rows: referenceRows.length,
    meanAbs: Object.fromEntries(
      Object.entries(sums).map(([score, s]) => [score, Array.from(s, (v) => v / referenceRows.length)]),
    ),
  };
  await writeExplanations(outDir, file);
  opts.log(
    `  saved ${join(outDir, EXPLANATIONS_FILE)} (${BACKGROUND_ROWS} background rows, reference on ${referenceRows.length})`,
  );
}
