/**
 * `hitstream train`: reads a Kaggle-format CSV or the labelled events stored in ClickHouse,
 * evaluates the chosen models under both protocols, refits the grouped-protocol models on every
 * row for the deployed artifacts (the report keeps the held-out numbers of the split fit), and
 * writes models/report.json, models/REPORT.md and the charts.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HitstreamError } from '../lib/errors.ts';
import type { ModelName } from '../schemas/prediction.ts';
import { decileReference } from './drift-reference.ts';
import {
  ENSEMBLE_FILE,
  type EnsembleManifest,
  type EnsembleWeights,
  ensembleScores,
  ensembleVersionFor,
  fitEnsembleWeights,
  readEnsemble,
} from './ensemble.ts';
import { fitPreprocessing, type Preprocessing, toMatrix, trainingMatrix } from './features.ts';
import { ERROR_ESTIMATE_FILE, writeErrorEstimate } from './error-estimate.ts';
import { fitErrorEstimate } from './error-estimate-fit.ts';
import { MODEL_NAMES } from '../schemas/index.ts';
import { kindFor, type Protocol, usesContext } from './kinds.ts';
import type { ModelManifest } from './manifest.ts';
import { type Metrics, regressionMetrics } from './metrics.ts';
import type { Scorer, TrainData, Validation } from './model.ts';
import { ARTIFACTS_DIR } from './model-set.ts';
import { bestSingleModel, writeReport } from './report.ts';
import { groupedSplit, randomRowSplit, type Split } from './split.ts';
import { loadTrainingData, type TrainingSource } from './training-source.ts';
import type { TrainingRow } from './training-rows.ts';

export interface TrainOptions {
  /** A CSV path (the same as `source: { kind: 'csv', path }`). */
  data?: string;
  source?: TrainingSource;
  /** Fewer usable rows than this stops the run, saying how many it found. */
  minRows?: number;
  /** Refit the shipped (grouped) artifacts on every row after evaluation; true by default. */
  refit?: boolean;
  models: ModelName[];
  seed: number;
  protocols: Protocol[];
  outDir?: string;
  /**
   * 2 runs the seed protocol in a child process while this one trains the grouped protocol: every
   * trainer is single-threaded (wasm, JS), so on two cores the run takes the longer protocol's time.
   */
  jobs?: number;
  log: (line: string) => void;
}

type Section = NonNullable<TrainReport['protocols'][Protocol]>;
type Row = TrainingRow;

export interface ModelResult {
  metrics: Metrics;
  trainSeconds: number;
  importance: number[] | undefined;
  usPerRow: { batch1: number; batch256: number };
  sizeBytes?: number;
}
export interface EnsembleResult {
  weights: EnsembleWeights;
  /** Fitted on these rows: the validation slice by track, which none of the models learnt from. */
  validationRows: number;
  validationRmse: number;
  /** On the test part, from the split fits' scores. */
  metrics: Metrics;
}
export interface TrainReport {
  data: {
    path: string;
    sha256: string;
    rows: number;
    usedRows: number;
    droppedRows: number;
    /** Older copies of a (track_id, track_genre) that a later row replaced. */
    duplicateRows?: number;
  };
  seed: number;
  created: string;
  protocols: Partial<
    Record<
      Protocol,
      {
        features: Partial<Record<ModelName, string[]>>;
        trainRows: number;
        testRows: number;
        /** What the shipped artifacts were fitted on (grouped only): the split's train rows, or all. */
        shipped?: { fit: 'split' | 'all-rows'; rows: number };
        /** Grouped only, when every model was trained: the weighted score of the four. */
        ensemble?: EnsembleResult;
      } & Partial<Record<ModelName, ModelResult>>
    >
  >;
}

async function timePerRow(
  scorer: Scorer,
  X: Float32Array,
  f: number,
): Promise<{ batch1: number; batch256: number }> {
  const n = X.length / f;
  const single = Math.min(200, n);
  let t = performance.now();
  for (let i = 0; i < single; i++) await scorer.predict(X.subarray(i * f, (i + 1) * f));
  const batch1 = ((performance.now() - t) * 1000) / single;
  const rows = Math.min(256 * 8, n - (n % 256) || n);
  t = performance.now();
  for (let o = 0; o < rows; o += 256) await scorer.predict(X.subarray(o * f, Math.min(o + 256, n) * f));
  return { batch1, batch256: ((performance.now() - t) * 1000) / rows };
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}

/**
 * Retraining a subset (`--models tabnet`) keeps the other models' results from the previous
 * report when it was made from the same data and seed; otherwise the new report stands alone.
 */
async function mergeWithPrevious(report: TrainReport, path: string): Promise<TrainReport> {
  let prev: TrainReport;
  try {
    prev = JSON.parse(await readFile(path, 'utf8')) as TrainReport;
  } catch {
    return report;
  }
  if (prev.data?.sha256 !== report.data.sha256 || prev.seed !== report.seed) return report;
  const protocols = { ...prev.protocols };
  for (const [p, section] of Object.entries(report.protocols) as [
    Protocol,
    NonNullable<TrainReport['protocols'][Protocol]>,
  ][]) {
    const old = protocols[p];
    // An ensemble of other fits would be stale: it stays only when this run fitted one.
    protocols[p] = old
      ? { ...old, ...section, features: { ...old.features, ...section.features }, ensemble: section.ensemble }
      : section;
  }
  return { ...report, protocols };
}

export const sourceOf = (opts: TrainOptions): TrainingSource =>
  opts.source ?? { kind: 'csv', path: opts.data ?? '' };

export async function train(opts: TrainOptions): Promise<TrainReport> {
  const { log } = opts;
  const outDir = opts.outDir ?? ARTIFACTS_DIR;
  const source = sourceOf(opts);
  log(`reading ${source.kind === 'clickhouse' ? 'the labelled events in ClickHouse' : source.path}`);
  const data = await loadTrainingData(source);
  for (const e of data.problems.slice(0, 5)) log(`skipping ${e}`);
  if (data.problems.length > 5) log(`… and ${data.problems.length - 5} more bad rows`);
  const rows = data.rows;
  const minRows = opts.minRows ?? 50;
  if (rows.length < minRows)
    throw new HitstreamError(
      'TRAIN_TOO_FEW_ROWS',
      `${data.description}: ${rows.length} usable labelled rows (of ${data.readRows} read); need at least ${minRows} to train (--min-rows)`,
      { field: '--min-rows' },
    );
  const report: TrainReport = {
    data: {
      path: data.description,
      sha256: data.sha256,
      rows: data.readRows,
      usedRows: rows.length,
      droppedRows: data.droppedRows,
      duplicateRows: data.duplicateRows,
    },
    seed: opts.seed,
    created: new Date().toISOString(),
    protocols: {},
  };
  log(
    `${rows.length} rows used (${report.data.droppedRows} dropped, ${data.duplicateRows} older copies of a track and genre replaced by a later one), data sha256 ${report.data.sha256.slice(0, 12)}…`,
  );

  // The seed protocol goes first: in one process, the grouped manifests then carry its metrics.
  const inChild = (opts.jobs ?? 1) > 1 && opts.protocols.length > 1 ? opts.protocols[0] : undefined;
  // Settled into a value at once, so a failing child cannot be an unhandled rejection meanwhile.
  const child = inChild
    ? protocolInChild(opts, inChild, rows).then(
        (section) => ({ section }),
        (error: unknown) => ({ error }),
      )
    : undefined;
  for (const protocol of opts.protocols)
    if (protocol !== inChild)
      report.protocols[protocol] = await trainProtocol(rows, protocol, opts, report, outDir);
  if (child && inChild) {
    const r = await child;
    if ('error' in r) throw r.error;
    report.protocols[inChild] = r.section;
    await addSeedMetricsToManifests(report, opts.models, outDir);
  }
  const merged = await mergeWithPrevious(report, join(outDir, '..', 'report.json'));
  await writeReport(merged, join(outDir, '..'), outDir);
  return merged;
}

/**
 * Trains and evaluates every chosen model under one protocol. Grouped also writes the artifacts:
 * by default refitted on every row (train and test) with the same hyperparameters and seed, so
 * the shipped model has seen all the data; its metrics stay those of the split fit.
 */
async function trainProtocol(
  rows: Row[],
  protocol: Protocol,
  opts: TrainOptions,
  report: TrainReport,
  outDir: string,
): Promise<Section> {
  const { log } = opts;
  const split: Split =
    protocol === 'seed'
      ? randomRowSplit(rows.length, opts.seed)
      : groupedSplit(
          rows.map((r) => r.track_id),
          opts.seed,
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
  const section: NonNullable<TrainReport['protocols'][Protocol]> = {
    features: {},
    trainRows: tr.length,
    testRows: te.length,
  };
  log(`— protocol ${protocol}: ${tr.length} train / ${te.length} test rows`);
  const testScores: Partial<Record<ModelName, Float32Array>> = {};
  /** The shipped fits' scores of their own training rows (the rows in one order for all). */
  const shippedScores: Partial<Record<ModelName, Float32Array>> = {};
  const validation: Partial<Record<ModelName, Validation>> = {};
  /** The evaluation fits, to rescore other rows (the error estimator's shifted check). */
  const evaluationFits: Partial<Record<ModelName, { pre: Preprocessing; scorer: Scorer }>> = {};
  for (const name of opts.models) {
    const { pre, Xtr, Xte } = variant(usesContext(name, protocol));
    const f = pre.features.length;
    section.features[name] = [...pre.features];
    log(
      `  ${protocol}/${name}: ${f} features${usesContext(name, protocol) ? ' (with context)' : ' (the original 14)'}`,
    );
    const t0 = performance.now();
    let last = 0;
    const data: TrainData = {
      X: Xtr,
      y: ytr,
      f,
      preprocessing: pre,
      seed: opts.seed,
      groups: tr.map((r) => r.track_id),
    };
    const trained = await kindFor(name, protocol).train(data, (fraction, detail) => {
      if (performance.now() - last > 2000 || fraction >= 1) {
        last = performance.now();
        log(`  ${protocol}/${name} ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`);
      }
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    const pred = (await trained.scorer.predict(Xte)).map((v) => Math.min(100, Math.max(0, v)));
    const metrics = regressionMetrics(yte, pred);
    testScores[name] = pred;
    evaluationFits[name] = { pre, scorer: trained.scorer };
    if (protocol === 'grouped')
      validation[name] = trained.validation ?? (await probeValidation(name, protocol, data, log));
    const usPerRow = await timePerRow(trained.scorer, Xte, f);
    const result: ModelResult = { metrics, trainSeconds, importance: trained.importance, usPerRow };
    section[name] = result;
    log(
      `  ${protocol}/${name}: RMSE ${metrics.rmse.toFixed(3)}, MAE ${metrics.mae.toFixed(3)}, R2 ${metrics.r2.toFixed(4)}, trained in ${trainSeconds.toFixed(1)} s`,
    );

    if (protocol === 'grouped') {
      const refit = opts.refit !== false;
      const shipped = refit
        ? await refitOnAllRows(rows, usesContext(name, protocol), (X, y, preprocessing) =>
            (trained.refitKind ?? kindFor(name, protocol)).train(
              { X, y, f, preprocessing, seed: opts.seed, groups: rows.map((r) => r.track_id) },
              (fraction, detail) => {
                if (performance.now() - last > 2000 || fraction >= 1) {
                  last = performance.now();
                  log(
                    `  ${protocol}/${name} refit on all ${rows.length} rows ${(fraction * 100).toFixed(0).padStart(3)}% ${detail}`,
                  );
                }
              },
            ),
          )
        : { trained, pre, X: Xtr, rows: tr.length };
      section.shipped = { fit: refit ? 'all-rows' : 'split', rows: shipped.rows };
      const dir = join(outDir, name);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const files = await shipped.trained.save(dir);
      const trainScores = await shipped.trained.scorer.predict(shipped.X);
      shippedScores[name] = trainScores.map((v) => Math.min(100, Math.max(0, v)));
      const manifest: ModelManifest = {
        name,
        version: `${name}-${versionId(report, opts.seed)}`,
        created: report.created,
        files: [...files, 'manifest.json'],
        features: [...shipped.pre.features],
        preprocessing: shipped.pre,
        training: {
          dataSha256: report.data.sha256,
          dataRows: report.data.rows,
          // What this artifact was fitted on; `testRows` held out for its metrics (the split fit).
          trainRows: shipped.rows,
          testRows: te.length,
          fit: section.shipped.fit,
          protocol: 'grouped',
          seed: opts.seed,
          seconds: trainSeconds,
        },
        hyperparameters: shipped.trained.hyperparameters,
        metrics: {
          grouped: metrics,
          ...(report.protocols.seed?.[name] ? { seed: report.protocols.seed[name].metrics } : {}),
        },
        importance: shipped.trained.importance,
        drift: {
          features: Object.fromEntries(
            shipped.pre.features.map((feat, j) => [
              feat,
              decileReference(shipped.X.filter((_, i) => i % f === j)),
            ]),
          ),
          score: decileReference(trainScores.map((v) => Math.min(100, Math.max(0, v)))),
        },
        sizeBytes: 0,
      };
      await writeManifest(dir, manifest);
      result.sizeBytes = manifest.sizeBytes;
      log(`  saved ${dir} (${(manifest.sizeBytes / 1e6).toFixed(2)} MB)`);
    }
  }
  const ensemble =
    protocol === 'grouped' ? fitEnsemble(opts.models, validation, testScores, ytr, yte) : undefined;
  if (ensemble) {
    section.ensemble = ensemble;
    const w = Object.entries(ensemble.weights).map(([m, v]) => `${m} ${v.toFixed(3)}`);
    log(
      `  ${protocol}/ensemble: RMSE ${ensemble.metrics.rmse.toFixed(3)} (weights ${w.join(', ')}, fitted on ${ensemble.validationRows} validation rows: RMSE ${ensemble.validationRmse.toFixed(3)})`,
    );
  }
  if (protocol === 'grouped') {
    await writeEnsemble(section, shippedScores, report, opts, outDir);
    await writeErrorEstimator(te, testScores, evaluationFits, report, opts, outDir);
  }
  return section;
}

/**
 * Fits the error estimator on the test split (error-estimate.json beside the model folders), when
 * this run trained all four models; otherwise removes a previous run's, which would judge other fits.
 */
async function writeErrorEstimator(
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

/**
 * Scores of the validation slice for a kind that keeps none (the forest): a second fit on the
 * other rows. The slice is the one the other kinds stop on (by track, seed + 1, 15%).
 */
async function probeValidation(
  name: ModelName,
  protocol: Protocol,
  data: TrainData,
  log: (line: string) => void,
): Promise<Validation | undefined> {
  if (!data.groups) return undefined;
  const split = groupedSplit(data.groups, data.seed + 1, 0.15);
  if (!split.test.length || !split.train.length) return undefined;
  const pick = (idx: number[]) => {
    const X = new Float32Array(idx.length * data.f);
    idx.forEach((i, k) => X.set(data.X.subarray(i * data.f, (i + 1) * data.f), k * data.f));
    return X;
  };
  log(`  ${protocol}/${name}: a second fit without the validation slice, for the ensemble weights`);
  const probe = await kindFor(name, protocol).train(
    { ...data, X: pick(split.train), y: Float32Array.from(split.train, (i) => data.y[i]!) },
    () => undefined,
  );
  return { rows: split.test, predictions: await probe.scorer.predict(pick(split.test)) };
}

/** Ensemble weights on the validation slice, when every model scored the same slice. */
function fitEnsemble(
  models: ModelName[],
  validation: Partial<Record<ModelName, Validation>>,
  testScores: Partial<Record<ModelName, Float32Array>>,
  ytr: Float32Array,
  yte: Float32Array,
): EnsembleResult | undefined {
  const rows = validation[models[0]!]?.rows;
  if (models.length < 2 || !rows) return undefined;
  const same = (r: readonly number[] | undefined) =>
    r?.length === rows.length && r.every((v, i) => v === rows[i]);
  if (!models.every((m) => same(validation[m]?.rows))) return undefined;
  const { weights, rmse } = fitEnsembleWeights(
    Object.fromEntries(models.map((m) => [m, validation[m]!.predictions])),
    Float32Array.from(rows, (i) => ytr[i]!),
  );
  return {
    weights,
    validationRows: rows.length,
    validationRmse: rmse,
    metrics: regressionMetrics(yte, ensembleScores(testScores, weights)),
  };
}

/**
 * Publishes the ensemble (ensemble.json beside the model folders) when it beats the best single
 * model on the test split, the rule; otherwise removes a previous run's, whose weights
 * would belong to other fits. Its weights, fitted on the split fits, apply to the shipped ones.
 */
async function writeEnsemble(
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
 * A version id: when the run started (UTC, to the second: two runs on one day and data are two
 * versions), the data's hash and the seed, e.g. `20261202-180721-932f111e-s42`.
 */
export const versionId = (report: TrainReport, seed: number): string =>
  `${report.created.slice(0, 19).replace(/[-:]/g, '').replace('T', '-')}-${report.data.sha256.slice(0, 8)}-s${seed}`;

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

/** Writes manifest.json with its folder's total size, the manifest itself included. */
async function writeManifest(dir: string, manifest: ModelManifest): Promise<void> {
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  manifest.sizeBytes = await dirSize(dir);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
}

/** When the seed protocol ran in a child, its metrics join the grouped manifests afterwards. */
async function addSeedMetricsToManifests(report: TrainReport, models: ModelName[], outDir: string) {
  for (const name of models) {
    const seed = report.protocols.seed?.[name]?.metrics;
    if (!seed || !report.protocols.grouped?.[name]) continue;
    const dir = join(outDir, name);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
    manifest.metrics = { ...manifest.metrics, seed };
    await writeManifest(dir, manifest);
    report.protocols.grouped[name].sizeBytes = manifest.sizeBytes;
  }
}

const BIN = fileURLToPath(new URL('../bin/hitstream.js', import.meta.url));

/**
 * Runs `hitstream train --protocols <protocol>` as a child process writing into a temporary
 * folder, forwards its progress lines, and returns its report section.
 */
async function protocolInChild(opts: TrainOptions, protocol: Protocol, rows: Row[]): Promise<Section> {
  const tmp = await mkdtemp(join(tmpdir(), `hitstream-train-${protocol}-`));
  try {
    // The child trains on exactly these rows (ClickHouse may have more by the time it would read).
    const rowsFile = join(tmp, 'rows.jsonl');
    await writeFile(rowsFile, rows.map((r) => JSON.stringify(r)).join('\n'));
    const args = [
      BIN,
      'train',
      '--from',
      'jsonl',
      '--data',
      rowsFile,
      '--min-rows',
      '1',
      '--models',
      opts.models.join(','),
      '--seed',
      String(opts.seed),
    ];
    const child = spawn(
      process.execPath,
      [...args, '--protocols', protocol, '--jobs', '1', '--out', join(tmp, 'artifacts')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const tail: string[] = [];
    for await (const line of createInterface({ input: child.stderr })) {
      const text = line.replace(/^train: /, '');
      tail.push(text);
      if (tail.length > 20) tail.shift();
      if (/^ {2}\S/.test(text)) opts.log(text); // per-model lines; the child's header repeats ours
    }
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (c) => resolve(c));
    });
    if (code !== 0)
      throw new Error(
        `training the ${protocol} protocol in a child process failed (exit ${code}):\n${tail.join('\n')}`,
      );
    const childReport = JSON.parse(await readFile(join(tmp, 'report.json'), 'utf8')) as TrainReport;
    const section = childReport.protocols[protocol];
    if (!section) throw new Error(`the ${protocol} child wrote no ${protocol} section`);
    return section;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
