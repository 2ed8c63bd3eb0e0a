/**
 * What a training run ships into the artifacts folder: each model's files and manifest, the set's
 * context tables once (models/context.ts), the ensemble and the error estimator.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeContext } from '../models/context.ts';
import { decileReference } from '../models/drift-reference.ts';
import {
  ENSEMBLE_FILE,
  type EnsembleManifest,
  ensembleScores,
  ensembleVersionFor,
  readEnsemble,
} from '../models/ensemble.ts';
import { ERROR_ESTIMATE_FILE, writeErrorEstimate } from '../models/error-estimate.ts';
import { type Preprocessing, toMatrix } from '../models/features.ts';
import { MANIFEST_FILE, type StoredManifest } from '../models/manifest.ts';
import type { Metrics } from '../models/metrics.ts';
import type { Scorer } from '../models/model.ts';
import { MODEL_NAMES, type ModelName } from '../schemas/prediction.ts';
import { fitErrorEstimate } from './error-estimate-fit.ts';
import { bestSingleModel } from './report.ts';
import { type Section, type TrainReport, versionId } from './results.ts';
import type { TrainingRow } from './rows.ts';
import { dirSize } from './timing.ts';
import type { TrainOptions } from './options.ts';
import type { Trained } from './trainer.ts';

type Row = TrainingRow;

const clip = (v: number) => Math.min(100, Math.max(0, v));

/** A fit to ship: the model, the preprocessing and matrix it was fitted with, and on how many rows. */
export interface ShippedFit {
  trained: Trained;
  pre: Preprocessing;
  X: Float32Array;
  rows: number;
}

/**
 * Saves one model of the grouped protocol into `<outDir>/<name>/` with its manifest (metrics of the
 * split fit, drift references of the shipped one); the context tables go to the set's context.json.
 * Returns the shipped fit's (clipped) scores of its own training rows.
 */
export async function shipModel(ship: {
  name: ModelName;
  fit: ShippedFit;
  kind: 'split' | 'all-rows';
  metrics: Metrics;
  testRows: number;
  trainSeconds: number;
  report: TrainReport;
  opts: TrainOptions;
  outDir: string;
}): Promise<{ trainScores: Float32Array; sizeBytes: number }> {
  const { name, fit, report, opts } = ship;
  const dir = join(ship.outDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const files = await fit.trained.save(dir);
  const trainScores = (await fit.trained.scorer.predict(fit.X)).map(clip);
  const f = fit.pre.features.length;
  const manifest: StoredManifest = {
    name,
    version: `${name}-${versionId(report, opts.seed)}`,
    created: report.created,
    files: [...files, MANIFEST_FILE],
    features: [...fit.pre.features],
    // Every grouped model of a run is fitted on the same rows, so they write the same tables.
    preprocessing: await writeContext(ship.outDir, fit.pre),
    training: {
      dataSha256: report.data.sha256,
      dataRows: report.data.rows,
      // What this artifact was fitted on; `testRows` held out for its metrics (the split fit).
      trainRows: fit.rows,
      testRows: ship.testRows,
      fit: ship.kind,
      protocol: 'grouped',
      seed: opts.seed,
      seconds: ship.trainSeconds,
    },
    hyperparameters: fit.trained.hyperparameters,
    metrics: {
      grouped: ship.metrics,
      ...(report.protocols.seed?.[name] ? { seed: report.protocols.seed[name].metrics } : {}),
    },
    importance: fit.trained.importance,
    drift: {
      features: Object.fromEntries(
        fit.pre.features.map((feat, j) => [feat, decileReference(fit.X.filter((_, i) => i % f === j))]),
      ),
      score: decileReference(trainScores),
    },
    sizeBytes: 0,
  };
  await writeManifest(dir, manifest);
  opts.log(`  saved ${dir} (${(manifest.sizeBytes / 1e6).toFixed(2)} MB)`);
  return { trainScores, sizeBytes: manifest.sizeBytes };
}

/** Writes manifest.json with its folder's total size, the manifest itself included. */
async function writeManifest(dir: string, manifest: StoredManifest): Promise<void> {
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 1));
  manifest.sizeBytes = await dirSize(dir);
  await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 1));
}

/** When the seed protocol ran in a child, its metrics join the grouped manifests afterwards. */
export async function addSeedMetricsToManifests(report: TrainReport, models: ModelName[], outDir: string) {
  for (const name of models) {
    const seed = report.protocols.seed?.[name]?.metrics;
    if (!seed || !report.protocols.grouped?.[name]) continue;
    const dir = join(outDir, name);
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as StoredManifest;
    manifest.metrics = { ...manifest.metrics, seed };
    await writeManifest(dir, manifest);
    report.protocols.grouped[name].sizeBytes = manifest.sizeBytes;
  }
}

/**
 * Publishes the ensemble (ensemble.json beside the model folders) when it beats the best single
 * model on the test split, the rule; otherwise removes a previous run's, whose weights
 * would belong to other fits. Its weights, fitted on the split fits, apply to the shipped ones.
 */
export async function writeEnsemble(
  section: Section,
  shippedScores: Partial<Record<ModelName, Float32Array>>,
  report: TrainReport,
  opts: TrainOptions,
  outDir: string,
): Promise<void> {
  const path = join(outDir, ENSEMBLE_FILE);
  const e = section.ensemble;
  const best = bestSingleModel(section);
  const members = e ? (Object.keys(e.weights) as ModelName[]) : [];
  if (!e || !best || e.metrics.rmse >= best.rmse || members.some((m) => !shippedScores[m])) {
    await rm(path, { force: true });
    if (e)
      opts.log(`  grouped/ensemble: not published (it does not beat ${best?.model ?? 'the best model'})`);
    return;
  }
  const manifest: EnsembleManifest = {
    name: 'ensemble',
    version: ensembleVersionFor(versionId(report, opts.seed)),
    created: report.created,
    weights: e.weights,
    metrics: { grouped: e.metrics },
    bestSingle: best,
    validation: { rows: e.validationRows, rmse: e.validationRmse },
    drift: { score: decileReference(ensembleScores(shippedScores, e.weights)) },
  };
  await writeFile(path, JSON.stringify(manifest, null, 1));
  opts.log(`  saved ${path}: published beside the four (beats ${best.model} ${best.rmse.toFixed(3)})`);
}

/**
 * Fits the error estimator on the test split (error-estimate.json beside the model folders), when
 * this run trained all four models; otherwise removes a previous run's, which would judge other fits.
 */
export async function writeErrorEstimator(
  te: Row[],
  testScores: Partial<Record<ModelName, Float32Array>>,
  fits: Partial<Record<ModelName, { pre: Preprocessing; scorer: Scorer }>>,
  report: TrainReport,
  opts: TrainOptions,
  outDir: string,
): Promise<void> {
  if (MODEL_NAMES.some((m) => !fits[m] || !testScores[m])) {
    await rm(join(outDir, ERROR_ESTIMATE_FILE), { force: true });
    opts.log('  grouped/error estimate: not fitted (it needs all four models in one run)');
    return;
  }
  const ensemble = await readEnsemble(outDir);
  const withEnsemble = (scores: Partial<Record<ModelName, Float32Array>>) =>
    ensemble ? { ...scores, ensemble: ensembleScores(scores, ensemble.weights) } : scores;
  const rescore = async (rows: Row[]) => {
    const out: Partial<Record<ModelName, Float32Array>> = {};
    for (const m of MODEL_NAMES)
      out[m] = (await fits[m]!.scorer.predict(toMatrix(rows, fits[m]!.pre))).map((v) =>
        Math.min(100, Math.max(0, v)),
      );
    return withEnsemble(out);
  };
  const file = await fitErrorEstimate({
    version: `error-estimate-${versionId(report, opts.seed)}`,
    rows: te,
    scores: withEnsemble(testScores),
    seed: opts.seed,
    rescore,
    log: opts.log,
  });
  await writeErrorEstimate(outDir, file);
  opts.log(`  saved ${join(outDir, ERROR_ESTIMATE_FILE)}`);
}
