/**
 * `replay --labels-later` of the sample against a real Kafka and ClickHouse: the events are scored
 * without labels, the error panels show nothing, then the labels arrive on their own stream and
 * the error equals that of a replay with the labels inline, to the last digit. A promotion gate
 * that had no labels to judge by decides once they arrive.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { createLabelSink } from '../../labels/sink.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { ARTIFACTS_DIR } from '../../models/model-set.ts';
import { backfill } from '../../registry/backfill.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { versionOf } from '../../registry/serving.ts';
import { errorPerMinuteSql, versionErrorSql } from '../../warehouse/drift-sql.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT } from '../helpers/services.ts';
import { removeVariants, variant } from '../helpers/versions.ts';

const SAMPLE = 'data/spotify_tracks_sample.csv';
type Pipeline = Awaited<ReturnType<typeof isolatedPipeline>>;
const pipelines: { p: Pipeline; s: ScoringApp }[] = [];
let sink: ReturnType<typeof createLabelSink>;

before(async () => {
  for (let i = 0; i < 2; i++) {
    const p = await isolatedPipeline(2);
    pipelines.push({ p, s: await startScoringApp(p) });
  }
  sink = createLabelSink(pipelines[1]!.p.cfg, { log: createLogger('test-label-sink', 'warn') });
  await sink.start();
});
after(async () => {
  removeVariants();
  await sink.stop();
  for (const { p, s } of pipelines) {
    await s.stop();
    await p.cleanup();
  }
});

const replay = (p: Pipeline, ...args: string[]) => {
  const child = spawn(process.execPath, ['bin/hitstream.js', 'replay', '--data', SAMPLE, ...args], {
    env: p.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { exited: once(child, 'exit').then(([code]) => ({ code: code as number, err })) };
};

const errorOf = async (p: Pipeline, version: string) =>
  p.client
    .query({ query: `${versionErrorSql(3600, version)} ORDER BY model`, format: 'JSONEachRow' })
    .then((r) => r.json<{ model: string; n: string; rmse: number; mae: number; bias: number }>())
    .then((rows) =>
      // To 9 decimals: ClickHouse sums in the order it reads the rows, which differs between two
      // tables filled in different orders by ~1e-14 (measured); the figures shown have 2 to 4.
      rows.map(({ model, n, rmse, mae, bias }) => ({
        model,
        n: Number(n),
        rmse: rmse.toFixed(9),
        mae: mae.toFixed(9),
        bias: bias.toFixed(9),
      })),
    );

test('replay --labels-later: no error until the labels arrive, then the same error as the labels inline', async () => {
  const [inline, later] = pipelines;
  const version = versionOf(inline!.s.models);
  const events = 2964;
  const a = replay(inline!.p);
  const b = replay(later!.p, '--labels-later', '--delay', '45s');
  assert.equal((await a.exited).code, 0);
  for (const { p } of pipelines)
    assert.equal(
      await eventually(
        () => p.count('SELECT count() FROM predictions FINAL'),
        (n) => n === events * SCORES_PER_EVENT,
        120_000,
      ),
      events * SCORES_PER_EVENT,
    );
  assert.equal(await later!.p.count('SELECT count() FROM labels'), 0, 'checked before any label was due');
  assert.equal(await later!.p.count('SELECT count() FROM predictions FINAL WHERE isNotNull(popularity)'), 0);
  assert.deepEqual(await errorOf(later!.p, version), [], 'no labels: no error');
  const panel = await later!.p.client
    .query({ query: errorPerMinuteSql('scored_at >= now() - 3600'), format: 'JSONEachRow' })
    .then((r) => r.json());
  assert.deepEqual(panel, [], 'the error panel is empty too');
  // A worse candidate, scored over the stored events as shadow: the gate has nothing to judge by.
  const log = createLogger('test-gate', 'warn');
  const cfg = later!.p.cfg;
  await ensureTopics(cfg); // the role topic
  const lifecycle = createLifecycle(cfg, log);
  after(() => lifecycle.close());
  assert.equal((await lifecycle.push(ARTIFACTS_DIR)).version, version);
  await lifecycle.promote(version);
  const worse = (await lifecycle.push(variant('worse', 0.6))).version;
  await backfill(cfg, log, {
    version: worse,
    from: new Date(Date.now() - 3600_000),
    to: new Date(Date.now() + 60_000),
  });
  assert.equal(await later!.p.count('SELECT count() FROM labels'), 0, 'still before the labels');
  await assert.rejects(lifecycle.promote(worse), /no labelled events were scored by/);

  const done = await b.exited;
  assert.equal(done.code, 0, done.err);
  assert.match(done.err, /labels sent after their events/);
  assert.equal(
    await eventually(
      () => later!.p.count('SELECT count() FROM labels FINAL'),
      (n) => n === events,
      120_000,
    ),
    events,
  );
  const expected = await errorOf(inline!.p, version);
  assert.equal(expected.length, SCORES_PER_EVENT);
  assert.ok(expected.every((r) => r.n === events));
  assert.deepEqual(await errorOf(later!.p, version), expected);
  // The same gate, the labels in: it decides (the candidate is worse, so it refuses, naming why).
  await assert.rejects(lifecycle.promote(worse), /is worse than live on .*mlp/s);
});
