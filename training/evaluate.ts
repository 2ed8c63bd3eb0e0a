/**
 * One protocol of a training run: split the rows, fit and evaluate every chosen model on the
 * split, and (grouped) ship each one, refitted on every row by default, then the ensemble and
 * the error estimator.
 */
import { type Preprocessing, toMatrix } from '../models/features.ts';
import { regressionMetrics } from '../models/metrics.ts';
import type { Scorer } from '../models/model.ts';
import type { ModelName } from '../schemas/prediction.ts';
import { fitPreprocessing, trainingMatrix } from './context-fit.ts';
import { fitEnsemble, probeValidation } from './ensemble-fit.ts';
import { writeExplanationsFile } from './explanations-fit.ts';
import { trainerFor, usesContext } from './kinds.ts';
import type { TrainOptions } from './options.ts';
import type { ModelResult, Protocol, Section, TrainReport } from './results.ts';
import type { TrainingRow } from './rows.ts';
import { type ShippedFit, shipModel, writeEnsemble, writeErrorEstimator } from './ship.ts';
import { groupedSplit, randomRowSplit } from './split.ts';
import { timePerRow } from './timing.ts';
import type { Progress, TrainData, Trained, Validation } from './trainer.ts';

type Row = TrainingRow;

const clip = (v: number) => Math.min(100, Math.max(0, v));

/** The protocol's train and test rows, and each set of columns fitted on the train rows (once). */
function splitRows(rows: Row[], protocol: Protocol, seed: number) {
  const split =
    protocol === 'seed'
      ? randomRowSplit(rows.length, seed)
      : groupedSplit(
          rows.map((r) => r.track_id),
          seed,
        );
  const tr = split.train.map((i) => rows[i]!);
  const te = split.test.map((i) => rows[i]!);
  const ytr = Float32Array.from(tr, (r) => r.popularity);
  const yte = Float32Array.from(te, (r) => r.popularity);
  const variants = new Map<boolean, { pre: Preprocessing; Xtr: Float32Array; Xte: Float32Array }>();
  const variant = (withGenre: boolean) => {
    let v = variants.get(withGenre);
    if (!v) {
      const pre = fitPreprocessing(tr, ytr, withGenre);
      variants.set(withGenre, (v = { pre, Xtr: trainingMatrix(tr, ytr, pre), Xte: toMatrix(te, pre) }));
    }
    return v;
  };
  return { tr, te, ytr, yte, variant };
}

/** A progress callback that logs at most every 2 s, and at the end. */
function throttledLog(log: (line: string) => void, prefix: string): Progress {
  let last = 0;
  return (fraction, detail) => {
    if (performance.now() - last > 2000 || fraction >= 1) {
      last = performance.now();
      log(`${prefix} ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`);
    }
  };
}

/** What the run keeps of each grouped model for the ensemble and the error estimator. */
interface Collected {
  testScores: Partial<Record<ModelName, Float32Array>>;
  /** The shipped fits' scores of their own training rows (the rows in one order for all). */
  shippedScores: Partial<Record<ModelName, Float32Array>>;
  validation: Partial<Record<ModelName, Validation>>;
  /** The evaluation fits, to rescore other rows (the error estimator's shifted check). */
  evaluationFits: Partial<Record<ModelName, { pre: Preprocessing; scorer: Scorer }>>;
}

/**
 * Trains and evaluates every chosen model under one protocol. Grouped also writes the artifacts:
 * by default refitted on every row (train and test) with the same hyperparameters and seed, so
 * the shipped model has seen all the data; its metrics stay those of the split fit.
 */
export async function trainProtocol(
  rows: Row[],
  protocol: Protocol,
  opts: TrainOptions,
  report: TrainReport,
  outDir: string,
): Promise<Section> {
  const { log } = opts;
  const { tr, te, ytr, yte, variant } = splitRows(rows, protocol, opts.seed);
  const section: Section = { features: {}, trainRows: tr.length, testRows: te.length };
  log(`— protocol ${protocol}: ${tr.length} train / ${te.length} test rows`);
  const kept: Collected = { testScores: {}, shippedScores: {}, validation: {}, evaluationFits: {} };
  for (const name of opts.models) {
    const { pre, Xtr, Xte } = variant(usesContext(name, protocol));
    const f = pre.features.length;
    section.features[name] = [...pre.features];
    log(
      `  ${protocol}/${name}: ${f} features${usesContext(name, protocol) ? ' (with context)' : ' (the original 14)'}`,
    );
    const t0 = performance.now();
    const data: TrainData = {
      X: Xtr,
      y: ytr,
      f,
      preprocessing: pre,
      seed: opts.seed,
      groups: tr.map((r) => r.track_id),
    };
    const trained = await trainerFor(name, protocol).train(data, throttledLog(log, `  ${protocol}/${name}`));
    const trainSeconds = (performance.now() - t0) / 1000;
    const pred = (await trained.scorer.predict(Xte)).map(clip);
    const metrics = regressionMetrics(yte, pred);
    kept.testScores[name] = pred;
    kept.evaluationFits[name] = { pre, scorer: trained.scorer };
    if (protocol === 'grouped')
      kept.validation[name] = trained.validation ?? (await probeValidation(name, protocol, data, log));
    const usPerRow = await timePerRow(trained.scorer, Xte, f);
    const result: ModelResult = { metrics, trainSeconds, importance: trained.importance, usPerRow };
    section[name] = result;
    log(
      `  ${protocol}/${name}: RMSE ${metrics.rmse.toFixed(3)}, MAE ${metrics.mae.toFixed(3)}, R2 ${metrics.r2.toFixed(4)}, trained in ${trainSeconds.toFixed(1)} s`,
    );
    if (protocol !== 'grouped') continue;
    const fit = await shippedFit(name, trained, { pre, X: Xtr, rows: tr.length }, rows, opts);
    section.shipped = { fit: opts.refit !== false ? 'all-rows' : 'split', rows: fit.rows };
    const shipped = await shipModel({
      name,
      fit,
      kind: section.shipped.fit,
      metrics,
      testRows: te.length,
      trainSeconds,
      report,
      opts,
      outDir,
    });
    kept.shippedScores[name] = shipped.trainScores;
    result.sizeBytes = shipped.sizeBytes;
  }
  if (protocol === 'grouped') {
    await finishGrouped(section, kept, te, ytr, yte, report, opts, outDir);
    await writeExplanationsFile(opts.refit !== false ? rows : tr, report, opts, outDir);
  }
  return section;
}

/** Preprocessing and model fitted on every row; `fit` trains with the evaluated settings. */
async function refitOnAllRows<T>(
  rows: Row[],
  withGenre: boolean,
  fit: (X: Float32Array, y: Float32Array, pre: Preprocessing) => Promise<T>,
) {
  const y = Float32Array.from(rows, (r) => r.popularity);
  const pre = fitPreprocessing(rows, y, withGenre);
  const X = trainingMatrix(rows, y, pre);
  return { trained: await fit(X, y, pre), pre, X, rows: rows.length };
}

/** The fit to ship: refitted on every row with the evaluated settings (default), or the split fit. */
async function shippedFit(
  name: ModelName,
  trained: Trained,
  splitFit: Omit<ShippedFit, 'trained'>,
  rows: Row[],
  opts: TrainOptions,
): Promise<ShippedFit> {
  if (opts.refit === false) return { trained, ...splitFit };
  const progress = throttledLog(opts.log, `  grouped/${name} refit on all ${rows.length} rows`);
  return refitOnAllRows(rows, usesContext(name, 'grouped'), (X, y, preprocessing) =>
    (trained.refitKind ?? trainerFor(name, 'grouped')).train(
      {
        X,
        y,
        f: preprocessing.features.length,
        preprocessing,
        seed: opts.seed,
        groups: rows.map((r) => r.track_id),
      },
      progress,
    ),
  );
}

/** The grouped protocol's set-wide artifacts: the ensemble (when it wins) and the error estimator. */
async function finishGrouped(
  section: Section,
  kept: Collected,
  te: Row[],
  ytr: Float32Array,
  yte: Float32Array,
  report: TrainReport,
  opts: TrainOptions,
  outDir: string,
): Promise<void> {
  const ensemble = fitEnsemble(opts.models, kept.validation, kept.testScores, ytr, yte);
  if (ensemble) {
    section.ensemble = ensemble;
    const w = Object.entries(ensemble.weights).map(([m, v]) => `${m} ${v.toFixed(3)}`);
    opts.log(
      `  grouped/ensemble: RMSE ${ensemble.metrics.rmse.toFixed(3)} (weights ${w.join(', ')}, fitted on ${ensemble.validationRows} validation rows: RMSE ${ensemble.validationRmse.toFixed(3)})`,
    );
  }
  await writeEnsemble(section, kept.shippedScores, report, opts, outDir);
  await writeErrorEstimator(te, kept.testScores, kept.evaluationFits, report, opts, outDir);
}
