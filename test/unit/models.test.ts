/** Model code on the repo's sample: formats round-trip, predictors agree, a tiny train-predict works. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { before, test } from 'node:test';
import { createRequire } from 'node:module';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { fitPreprocessing } from '../../training/context-fit.ts';
import { MODEL_FEATURES, type Preprocessing, standardize, toMatrix } from '../../models/features.ts';
import { predictCsv } from '../../models/predict-csv.ts';
import { decodeForest, encodeForest } from '../../models/random-forest/compact-format.ts';
import { decodeCovers, encodeCovers } from '../../models/random-forest/covers.ts';
import { predictCompactForest } from '../../models/random-forest/compact-scorer.ts';
import { trainForest } from '../../training/random-forest/histogram-trainer.ts';
import { randomForestLoader } from '../../models/random-forest/index.ts';
import { randomForestTrainer } from '../../training/random-forest/index.ts';
import { loadModels } from '../../models/model-set.ts';
import { contextReader } from '../../models/context.ts';
import { readManifest } from '../../models/manifest.ts';
import { loadMlp } from '../../models/mlp/index.ts';
import { buildMlpScoringGraph } from '../../models/mlp/scoring-graph.ts';
import { loadTabNet, tabnetLoader } from '../../models/tabnet/index.ts';
import { PLAIN_PASS_MAX_ROWS } from '../../models/tabnet/plain-pass.ts';
import { TABNET_DEFAULTS } from '../../training/tabnet.ts';
import { TabNet } from '../../models/tabnet/network.ts';
import { buildTabNetScoringGraph } from '../../models/tabnet/scoring-graph.ts';
import { sparsemax } from '../../models/tabnet/sparsemax.ts';
import { tf, tfReady } from '../../models/tf-backend.ts';
import { train } from '../../training/train.ts';
import { parseXgbModel, predictXgb, rmseByTreeCount } from '../../models/xgboost/binary-model.ts';
import { xgboostTrainer } from '../../training/xgboost/index.ts';
import { trainXgboostBinary } from '../../training/xgboost/wasm-trainer.ts';
import { MODEL_NAMES, type ModelName } from '../../schemas/index.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
let X: Float32Array;
let y: Float32Array;
let pre: Preprocessing;
let f: number;
before(async () => {
  const { tracks } = await loadKaggleCsv(SAMPLE);
  y = Float32Array.from(tracks, (t) => t.popularity!);
  pre = fitPreprocessing(tracks, y);
  X = toMatrix(tracks, pre);
  f = pre.features.length;
});

test('preprocessing survives a JSON round trip (what a manifest stores) unchanged', async () => {
  const { tracks } = await loadKaggleCsv(SAMPLE);
  const again = JSON.parse(JSON.stringify(pre)) as Preprocessing;
  assert.deepEqual(toMatrix(tracks, again), X);
  assert.equal(f, 22);
  assert.equal(
    X[14],
    Math.fround(pre.genre.means[tracks[0]!.track_genre]!),
    'genre column is the genre mean',
  );
  assert.equal(
    toMatrix([{ ...tracks[0]!, track_genre: 'no-such-genre' }], pre)[14],
    Math.fround(pre.genre.prior),
  );
});

test("random forest: compact storage round-trips; the compact scorer gives exactly ml-random-forest's scores", async () => {
  const forest = trainForest(X, y, f, {
    nTrees: 5,
    minSamplesLeaf: 3,
    maxFeatures: 0.6,
    maxDepth: 30,
    maxBins: 255,
    seed: 3,
  });
  const decoded = await decodeForest(encodeForest(forest.trees));
  const covers = await decodeCovers(encodeCovers(forest.trees), decoded);
  for (let t = 0; t < forest.trees.length; t++)
    assert.deepEqual(
      { ...decoded[t], cover: covers[t] },
      forest.trees[t],
      'trees and their covers (a file of their own)',
    );
  const tree = forest.trees[0]!;
  assert.equal(tree.cover![0], y.length, 'the root covers every bootstrap row');
  for (let k = 0; k < tree.feature.length; k++)
    if (tree.feature[k] !== -1)
      assert.equal(tree.cover![k], tree.cover![k + 1]! + tree.cover![tree.right[k]!]!);
  const trained = await randomForestTrainer({ nTrees: 5, minSamplesLeaf: 3 }).train(
    { X, y, f, preprocessing: pre, seed: 3 },
    () => undefined,
  );
  const kind = randomForestLoader;
  const dir = mkdtempSync(join(tmpdir(), 'hs-rf-'));
  await trained.save(dir);
  const viaMl = await (await kind.load(dir, pre, { rfPredictor: 'ml-random-forest' })).predict(X);
  const viaCompact = await (await kind.load(dir, pre)).predict(X);
  const viaTrained = await trained.scorer.predict(X);
  assert.deepEqual(viaCompact, viaMl, 'the compact scorer is the default and equals ml-random-forest');
  assert.deepEqual(viaTrained, viaMl);
  assert.deepEqual(predictCompactForest(forest.trees, X, f).length, y.length);
  const imp = forest.importance.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(imp - 1) < 1e-9);
});

test('random forest: the deployed forest scores the sample identically through both predictors', async () => {
  const rfDir = 'models/artifacts/rf';
  const manifest = await readManifest('models/artifacts', 'rf', contextReader('models/artifacts'));
  const { tracks } = await loadKaggleCsv(SAMPLE, { limit: 500 });
  const rows = toMatrix(tracks, manifest.preprocessing);
  const kind = randomForestLoader;
  const viaMl = await (
    await kind.load(rfDir, manifest.preprocessing, { rfPredictor: 'ml-random-forest' })
  ).predict(rows);
  const viaCompact = await (await kind.load(rfDir, manifest.preprocessing)).predict(rows);
  assert.equal(viaCompact.length, 500);
  assert.deepEqual(viaCompact, viaMl);
});

/** Largest absolute difference between two equally long arrays. */
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

/** A deployed model's manifest and 500 sample rows standardized as that model expects them. */
async function standardizedSample(dir: string) {
  const name = basename(dir) as ModelName;
  const manifest = await readManifest(join(dir, '..'), name, contextReader(join(dir, '..')));
  const { tracks } = await loadKaggleCsv(SAMPLE, { limit: 500 });
  return { manifest, Z: standardize(toMatrix(tracks, manifest.preprocessing), manifest.preprocessing) };
}

/**
 * Scores and feature use of `TabNet.forward(x, false)`, of the folded scoring graph, and of the
 * same folded pass in plain JavaScript.
 */
function threeTabNetPasses(net: TabNet, Z: Float32Array, width: number) {
  const graph = buildTabNetScoringGraph(net);
  const n = Z.length / width;
  const [reference, folded] = tf.tidy(() => {
    const ref = net.forward(tf.tensor2d(Z, [n, width]), false);
    const fold = graph.forward(tf.tensor3d(graph.normalizeInput(Z.slice()), [1, n, width]));
    return [ref, fold].map((r) => ({ y: r.y.dataSync(), aggregate: r.aggregate.dataSync() }));
  });
  const plain = graph.forwardRows(graph.normalizeInput(Z.slice()), n);
  graph.dispose();
  return { reference: reference!, folded: folded!, plain };
}

/** Both passes give the reference's scores and feature use, up to float32 rounding. */
function assertSameTabNet({ reference, folded, plain }: ReturnType<typeof threeTabNetPasses>) {
  const scale = Math.max(...reference.aggregate);
  for (const [name, pass] of Object.entries({ folded, plain })) {
    // The scores are standardized (sd 1 = ~22 popularity points).
    const dy = maxAbsDiff(pass.y, reference.y);
    assert.ok(dy < 1e-4, `${name}: scores differ by ${dy}`);
    const da = maxAbsDiff(pass.aggregate, reference.aggregate);
    assert.ok(da < 1e-4 * scale, `${name}: feature use differs by ${da} (largest value ${scale})`);
  }
}

test('tabnet: the deployed network scores the sample the same with its batch norms folded, in TensorFlow.js and in plain JavaScript', async () => {
  const dir = 'models/artifacts/tabnet';
  const { manifest, Z } = await standardizedSample(dir);
  const { net } = await loadTabNet(dir, manifest.preprocessing);
  assertSameTabNet(threeTabNetPasses(net, Z, manifest.preprocessing.features.length));
});

test('tabnet: folding also holds for sparsemax masks and batch norms far from identity', async () => {
  await tfReady();
  const width = 6;
  const net = new TabNet(width, { ...TABNET_DEFAULTS, mask: 'sparsemax' }, 7);
  // Fresh batch norms are the identity; give every one distinct statistics so folding is tested.
  let k = 0;
  for (const [name, v] of Object.entries(net.vars)) {
    const values = Float32Array.from({ length: v.size }, (_, i) => Math.sin(++k + i * 0.37));
    if (name.endsWith('.var')) values.forEach((x, i) => (values[i] = 0.5 + x * x));
    v.assign(tf.tensor(values, v.shape));
  }
  const Z = Float32Array.from({ length: 64 * width }, (_, i) => Math.cos(i * 1.3) * 2);
  const passes = threeTabNetPasses(net, Z, width);
  assertSameTabNet(passes);
  // Sparsemax gave some exact zeros, so the test covered masks that drop features.
  assert.ok(passes.reference.aggregate.some((v) => v === 0));
  assert.ok(passes.plain.aggregate.some((v) => v === 0));
});

test('tabnet: a small batch (plain JavaScript) and the same rows in a big one (TensorFlow.js) get the same scores and masks', async () => {
  const dir = 'models/artifacts/tabnet';
  const { manifest } = await standardizedSample(dir);
  const scorer = await tabnetLoader.load(dir, manifest.preprocessing);
  const width = manifest.preprocessing.features.length;
  const big = await scorer.explain(X.subarray(0, 200 * width));
  for (const rows of [1, 3, PLAIN_PASS_MAX_ROWS]) {
    const small = await scorer.explain(X.subarray(0, rows * width));
    const dy = maxAbsDiff(small.scores, big.scores.subarray(0, rows));
    assert.ok(dy < 1e-3, `${rows} rows: scores differ by ${dy} popularity points`);
    const dm = maxAbsDiff(small.masks, big.masks.subarray(0, rows * width));
    assert.ok(dm < 1e-5, `${rows} rows: masks differ by ${dm}`);
    for (let r = 0; r < rows; r++) {
      const sum = small.masks.subarray(r * width, (r + 1) * width).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, `${rows} rows: row ${r}'s mask sums to ${sum}`);
    }
  }
  // tabnetPass 'tensorflow' (what `bench models` compares with) scores small batches in TensorFlow.js: the same.
  const tfOnly = await tabnetLoader.load(dir, manifest.preprocessing, { tabnetPass: 'tensorflow' });
  const one = await tfOnly.explain(X.subarray(0, width));
  assert.ok(maxAbsDiff(one.scores, big.scores.subarray(0, 1)) < 1e-3);
});

test('mlp: the deployed network scores the sample the same as one fused matMul per layer', async () => {
  const dir = 'models/artifacts/mlp';
  const { manifest, Z } = await standardizedSample(dir);
  const width = manifest.preprocessing.features.length;
  const { model } = await loadMlp(dir, manifest.preprocessing);
  const graph = buildMlpScoringGraph(model);
  const [reference, folded] = tf.tidy(() => [
    (model.predict(tf.tensor2d(Z, [500, width])) as tf.Tensor).dataSync(),
    graph.forward(tf.tensor3d(Z, [1, 500, width])).dataSync(),
  ]);
  graph.dispose();
  assert.equal(folded.length, 500);
  assert.ok(maxAbsDiff(folded, reference) < 1e-4, `scores differ by ${maxAbsDiff(folded, reference)}`);
});

test("xgboost: the batch scorer reproduces ml-xgboost's own predictions", async () => {
  const bytes = await trainXgboostBinary(
    X,
    y,
    f,
    { booster: 'gbtree', objective: 'reg:linear', max_depth: 5, eta: 0.2, silent: 1 },
    30,
  );
  const parsed = parseXgbModel(bytes);
  assert.ok(parsed.fixedDepth, 'XGBoost allocates sibling nodes together: the fixed-depth walk applies');
  const mine = predictXgb(parsed, X, f);
  // Every row count modulo 4: the fixed-depth walk takes rows four at a time, then the rest.
  for (const rows of [y.length, y.length - 1, y.length - 2, 3, 1])
    assert.deepEqual(
      predictXgb(parsed, X.subarray(0, rows * f), f),
      predictXgb({ ...parsed, fixedDepth: undefined }, X.subarray(0, rows * f), f),
      `the fixed-depth and the branching walk agree exactly on ${rows} rows`,
    );
  const require = createRequire(import.meta.url);
  const XGBoost = await (require('ml-xgboost') as Promise<{
    load(m: object): { predict(x: number[][]): number[] };
  }>);
  const theirs = XGBoost.load({
    name: 'ml-xgboost',
    model: Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)),
    options: {},
  });
  const rows = Array.from({ length: 200 }, (_, i) => Array.from(X.subarray(i * f, (i + 1) * f)));
  const ref = theirs.predict(rows);
  for (let i = 0; i < 200; i++)
    assert.ok(Math.abs(mine[i]! - ref[i]!) < 1e-3, `row ${i}: ${mine[i]} vs ${ref[i]}`);
});

test('sparsemax projects onto the simplex with exact zeros, and its gradient is the known Jacobian', async () => {
  await tfReady();
  const z = tf.tensor2d([
    [1, 0.5, 0.1, -1],
    [0.2, 0.2, 0.2, 0.2],
  ]);
  assert.deepEqual(
    Array.from(sparsemax(z).dataSync()).map((v) => Math.round(v * 1000) / 1000),
    [0.75, 0.25, 0, 0, 0.25, 0.25, 0.25, 0.25],
  );
  const g = tf.grad((x: tf.Tensor) =>
    tf.sum(
      tf.mul(
        sparsemax(x),
        tf.tensor2d([
          [1, 2, 3, 4],
          [1, 2, 3, 4],
        ]),
      ),
    ),
  )(z);
  assert.deepEqual(Array.from(g.dataSync()), [-0.5, 0.5, 0, 0, -1.5, -0.5, 0.5, 1.5]);
});

test('tiny train on the sample, then loadModels/predictBatch and offline predict give four scores per row, five with a published ensemble', async () => {
  const root = mkdtempSync(join(tmpdir(), 'hs-train-'));
  const out = join(root, 'artifacts');
  const report = await train({
    data: SAMPLE,
    models: [...MODEL_NAMES],
    seed: 7,
    protocols: ['grouped'],
    outDir: out,
    log: () => undefined,
  });
  for (const m of MODEL_NAMES) assert.ok(report.protocols.grouped?.[m]?.metrics.rmse, m);
  const manifest = JSON.parse(readFileSync(join(out, 'rf', 'manifest.json'), 'utf8')) as {
    training: { dataRows: number; dataSha256: string };
    drift: { features: Record<string, unknown> };
  };
  assert.equal(manifest.training.dataRows, 2964);
  assert.match(manifest.training.dataSha256, /^[0-9a-f]{64}$/);
  assert.equal(Object.keys(manifest.drift.features).length, MODEL_FEATURES.length);
  assert.ok(readFileSync(join(root, 'REPORT.md'), 'utf8').includes('Leakage-free'));

  // The rule: ensemble.json is written exactly when the ensemble beats the best single model.
  const section = report.protocols.grouped!;
  const best = Math.min(...MODEL_NAMES.map((m) => section[m]!.metrics.rmse));
  const published = section.ensemble!.metrics.rmse < best;
  assert.equal(existsSync(join(out, 'ensemble.json')), published);

  const models = await loadModels(out);
  const names = published ? [...MODEL_NAMES, 'ensemble'] : [...MODEL_NAMES];
  assert.deepEqual(models.scoreNames, names);
  const empty = await models.predictBatch([]);
  for (const m of empty.names)
    assert.equal(
      empty.scores[m]!.length,
      0,
      'a batch of only invalid events scores nothing, without throwing',
    );
  const { tracks } = await loadKaggleCsv(SAMPLE, { limit: 10 });
  const p = await models.predictBatch(tracks);
  assert.deepEqual(p.names, names);
  for (const m of p.names) {
    assert.equal(p.scores[m]!.length, 10);
    for (const s of p.scores[m]!) assert.ok(s >= 0 && s <= 100, `${m} score ${s}`);
  }
  if (published) {
    const weights = models.ensemble!.weights;
    assert.equal(models.versions.ensemble, `ensemble-${models.versions.rf.replace(/^rf-/, '')}`);
    for (let i = 0; i < 10; i++) {
      const sum = Object.entries(weights).reduce((s, [m, w]) => s + w * p.scores[m as 'rf'][i]!, 0);
      assert.ok(Math.abs(p.scores.ensemble![i]! - Math.min(100, Math.max(0, sum))) < 1e-3, `row ${i}`);
    }
  }
  for (let i = 0; i < 10; i++) {
    const row = p.tabnetMasks
      .subarray(i * MODEL_FEATURES.length, (i + 1) * MODEL_FEATURES.length)
      .reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(row - 1) < 1e-3, `mask row ${i} sums to ${row}`);
  }

  const bad = join(root, 'bad.csv');
  const lines = readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 4);
  lines[2] = lines[2]!.replace(/,(True|False),/, ',Maybe,');
  writeFileSync(bad, `${lines.join('\n')}\n`);
  const sink = new PassThrough();
  let csv = '';
  sink.on('data', (c: Buffer) => (csv += c.toString()));
  const r = await predictCsv(models, bad, sink, { quiet: true });
  assert.equal(r.rows, 2);
  assert.deepEqual(
    r.badRows.map((b) => [b.row, b.column]),
    [[2, 'explicit']],
  );
  assert.equal(csv.trim().split('\n')[0], `track_id,${names.join(',')}`);
  assert.equal(csv.trim().split('\n').length, 3);
  assert.ok(r.metrics?.rf, 'labelled input gives metrics');
});

test('train --jobs 2 runs the seed protocol in a child process with the same result as in one process', async () => {
  const run = async (jobs: number) => {
    const out = join(mkdtempSync(join(tmpdir(), `hs-jobs${jobs}-`)), 'artifacts');
    const report = await train({
      data: SAMPLE,
      models: ['rf'],
      seed: 3,
      protocols: ['seed', 'grouped'],
      outDir: out,
      jobs,
      log: () => undefined,
    });
    const manifest = JSON.parse(readFileSync(join(out, 'rf', 'manifest.json'), 'utf8')) as {
      metrics: { seed?: { rmse: number }; grouped: { rmse: number } };
    };
    return { report, manifest };
  };
  const one = await run(1);
  const two = await run(2);
  assert.equal(two.report.protocols.seed?.rf?.metrics.rmse, one.report.protocols.seed?.rf?.metrics.rmse);
  assert.equal(
    two.report.protocols.grouped?.rf?.metrics.rmse,
    one.report.protocols.grouped?.rf?.metrics.rmse,
  );
  assert.equal(two.manifest.metrics.seed?.rmse, one.report.protocols.seed?.rf?.metrics.rmse);
  assert.deepEqual(two.manifest.metrics, one.manifest.metrics);
});

test('xgboost: with a validation slice it keeps the best prefix of trees, chosen on held-out tracks, and refits with that count', async () => {
  const groups = Array.from({ length: y.length }, (_, i) => `track-${i % 97}`);
  const kind = xgboostTrainer({
    iterations: 60,
    tree_method: 'hist',
    max_depth: 4,
    eta: 0.3,
    subsample: 1,
    colsample_bytree: 1,
    min_child_weight: 1,
    lambda: 1,
    validation_fraction: 0.25,
  });
  const trained = await kind.train({ X, y, f, preprocessing: pre, seed: 3, groups }, () => undefined);
  const h = trained.hyperparameters as {
    iterations: number;
    trees_chosen_on: { rmse: number; most: number };
  };
  assert.ok(h.iterations >= 1 && h.iterations <= 60, `${h.iterations} trees kept`);
  assert.equal(h.trees_chosen_on.most, 60);
  const refit = await trained.refitKind!.train(
    { X, y, f, preprocessing: pre, seed: 3, groups },
    () => undefined,
  );
  assert.equal(
    (refit.hyperparameters as { iterations: number }).iterations,
    h.iterations,
    'the refit keeps the count',
  );
  assert.equal((refit.hyperparameters as { trees_chosen_on?: unknown }).trees_chosen_on, undefined);
});

test('xgboost: the RMSE curve by tree count ends at the RMSE of the whole model', async () => {
  const bytes = await trainXgboostBinary(
    X,
    y,
    f,
    { booster: 'gbtree', objective: 'reg:linear', max_depth: 3, eta: 0.3, silent: 1 },
    12,
  );
  const m = parseXgbModel(bytes);
  const curve = rmseByTreeCount(m, X, f, y);
  assert.equal(curve.length, 12);
  const full = predictXgb(m, X, f);
  const rmse = Math.sqrt(
    full.reduce((s, p, i) => s + (Math.min(100, Math.max(0, p)) - y[i]!) ** 2, 0) / y.length,
  );
  assert.ok(Math.abs(curve[11]! - rmse) < 1e-3, `${curve[11]} vs ${rmse}`);
  assert.ok(curve[11]! < curve[0]!, 'training RMSE falls as trees are added');
});
