/**
 * Labels that arrive later, against a real Kafka and ClickHouse: events scored without a label,
 * then labels through each way in (the topic, POST /labels, `hitstream label` with JSON and CSV),
 * stored once with both times by the label sink, and joined where error is computed. A bad label
 * is dead-lettered naming its field; a label for a track never seen joins when the track arrives;
 * a newer label replaces the older in reads; training reads only labels that had arrived.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { createLogger } from '../../lib/logger.ts';
import { createLabelSink } from '../../labels/sink.ts';
import { versionOf } from '../../registry/serving.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { loadTrainingData } from '../../training/source.ts';
import { versionErrorSql } from '../../warehouse/drift-sql.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT, testKafka } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
let sink: ReturnType<typeof createLabelSink>;

before(async () => {
  p = await isolatedPipeline(2);
  s = await startScoringApp(p);
  sink = createLabelSink(p.cfg, { log: createLogger('test-label-sink', 'warn') });
  await sink.start();
});
after(async () => {
  await sink.stop();
  await s.stop();
  await p.cleanup();
});

const cli = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, ['bin/hitstream.js', 'label', ...args], {
    env: p.env,
    encoding: 'utf8',
    input,
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

const errorOfLive = async () => {
  const rows = await p.client
    .query({ query: versionErrorSql(3600, versionOf(s.models)), format: 'JSONEachRow' })
    .then((r) => r.json<{ model: string; n: string; rmse: number; from_stream: string }>());
  return Object.fromEntries(
    rows.map((r) => [r.model, { n: Number(r.n), rmse: r.rmse, fromStream: Number(r.from_stream) }]),
  );
};

test('labels through the topic, POST /labels and the CLI are stored once and judge the predictions scored before them', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 8 });
  const now = new Date().toISOString();
  const events = tracks.map((t) => {
    const e = trackEventFromCsv(t, now) as Record<string, unknown>;
    delete e.popularity; // scored first; the label comes later
    return e;
  });
  const results = await s.publisher.publish(events);
  assert.ok(results.every((r) => r.ok));
  assert.equal(
    await eventually(
      () => p.count('SELECT count() FROM predictions FINAL'),
      (n) => n === events.length * SCORES_PER_EVENT,
    ),
    events.length * SCORES_PER_EVENT,
  );
  assert.deepEqual(await errorOfLive(), {}, 'no labels yet: no error to show');

  const [a, b, c, d, e] = tracks;
  // 1. The topic itself.
  const producer = testKafka(p.cfg).producer();
  await producer.connect();
  const onTopic = { track_id: a!.track_id, popularity: a!.popularity, label_time: now };
  await producer.send({
    topic: p.cfg.topicLabels,
    messages: [
      { key: a!.track_id, value: JSON.stringify(onTopic) },
      { key: a!.track_id, value: JSON.stringify(onTopic) }, // the same label twice: stored once
      { key: 'bad', value: JSON.stringify({ track_id: 'x', popularity: 101, label_time: now }) },
    ],
  });
  await producer.disconnect();
  // 2. POST /labels, one good and one without a track.
  const res = await s.app.inject({
    method: 'POST',
    url: '/labels',
    payload: [{ track_id: b!.track_id, popularity: b!.popularity }, { popularity: 3 }],
  });
  assert.equal(res.statusCode, 207, res.body);
  const body = res.json<{ results: { accepted: boolean; errors?: { field: string; code: string }[] }[] }>();
  assert.deepEqual(body.results[1]!.errors?.[0], {
    ...body.results[1]!.errors?.[0],
    field: 'track_id',
    code: 'missing_field',
  });
  // 3. The CLI: a JSON argument, and a CSV of track_id,popularity.
  const one = cli([JSON.stringify({ track_id: c!.track_id, popularity: c!.popularity })]);
  assert.equal(one.code, 0, one.err);
  const dir = mkdtempSync(join(tmpdir(), 'hs-labels-'));
  writeFileSync(
    join(dir, 'labels.csv'),
    `track_id,popularity\n${d!.track_id},${d!.popularity}\n${e!.track_id},${e!.popularity}\n`,
  );
  const csv = cli(['--csv', join(dir, 'labels.csv')]);
  assert.equal(csv.code, 0, csv.err);
  const wrong = cli([JSON.stringify({ track_id: 'y', popularity: 7, label_time: 'yesterday' })]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.out, /"field":"label_time"/, 'a malformed time is named');

  await eventually(
    () => p.count('SELECT count() FROM labels FINAL'),
    (n) => n >= 5,
  );
  assert.equal(
    await p.count('SELECT count() FROM labels FINAL'),
    5,
    'five labels, the duplicate stored once',
  );
  assert.equal(await p.count("SELECT count() FROM labels FINAL WHERE source = 'http'"), 1);
  assert.equal(await p.count("SELECT count() FROM labels FINAL WHERE source = 'cli'"), 3);
  await eventually(
    () =>
      p.count(
        "SELECT count() FROM dead_letters FINAL WHERE field = 'popularity' AND error_code = 'out_of_range'",
      ),
    (n) => n === 1,
  );

  // The five labelled events judge their predictions; by hand from the stored rows:
  const stored = await p.client
    .query({
      query: "SELECT track_id, score FROM predictions FINAL WHERE model = 'rf'",
      format: 'JSONEachRow',
    })
    .then((r) => r.json<{ track_id: string; score: number }>());
  const labelOf = new Map([a, b, c, d, e].map((t) => [t!.track_id, t!.popularity]));
  const se = stored
    .filter((r) => labelOf.has(r.track_id))
    .map((r) => (r.score - labelOf.get(r.track_id)!) ** 2);
  const error = await errorOfLive();
  assert.equal(error.rf!.n, se.length);
  assert.equal(error.rf!.fromStream, se.length, 'every label came from the stream');
  assert.ok(Math.abs(error.rf!.rmse - Math.sqrt(se.reduce((x, y) => x + y, 0) / se.length)) < 1e-3);
});

test('a label for a track never seen joins when the track arrives; a newer label replaces the older in reads, both kept', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 20 });
  const t = tracks[19]!;
  const early = new Date(Date.now() - 60_000).toISOString();
  await s.app.inject({
    method: 'POST',
    url: '/labels',
    payload: { track_id: t.track_id, popularity: 10, label_time: early },
  });
  await eventually(
    () => p.count(`SELECT count() FROM labels FINAL WHERE track_id = '${t.track_id}'`),
    (n) => n === 1,
  );
  const before = (await errorOfLive()).rf?.n ?? 0;
  await s.publisher.publish([{ ...trackEventFromCsv(t, new Date().toISOString()), popularity: undefined }]);
  assert.equal(
    await eventually(
      async () => (await errorOfLive()).rf?.n ?? 0,
      (n) => n === before + 1,
    ),
    before + 1,
    'the event joins the label that was waiting for it',
  );
  const score = Number(
    (
      await p.client
        .query({
          query: `SELECT score FROM predictions FINAL WHERE model = 'rf' AND track_id = '${t.track_id}'`,
          format: 'JSONEachRow',
        })
        .then((r) => r.json<{ score: number }>())
    )[0]!.score,
  );
  const sql = `SELECT label FROM (${(await import('../../warehouse/labels-sql.ts')).withLabelsSql(
    `SELECT event_id, track_id, popularity, scored_at FROM predictions FINAL WHERE model = 'rf' AND track_id = '${t.track_id}'`,
    ['event_id', 'track_id', 'popularity', 'scored_at'],
  )}) AS l`;
  const labelNow = async () =>
    Number(
      (
        await p.client.query({ query: sql, format: 'JSONEachRow' }).then((r) => r.json<{ label: number }>())
      )[0]!.label,
    );
  assert.equal(await labelNow(), 10);
  await s.app.inject({ method: 'POST', url: '/labels', payload: { track_id: t.track_id, popularity: 55 } });
  assert.equal(await eventually(labelNow, (v) => v === 55), 55, 'the newer label wins');
  assert.equal(
    await p.count(`SELECT count() FROM labels FINAL WHERE track_id = '${t.track_id}'`),
    2,
    'both labels kept',
  );
  assert.ok(Number.isFinite(score));
});

test('training from ClickHouse reads only the labels that had arrived by --labels-before, the same rows every time', async () => {
  const cut = new Date(Math.floor(Date.now() / 1000) * 1000);
  const read = () => loadTrainingData({ kind: 'clickhouse', cfg: p.cfg, labelsBefore: cut });
  const first = await read();
  assert.ok(first.rows.length >= 6, `${first.rows.length} labelled rows`);
  await new Promise((r) => setTimeout(r, 1100)); // a label arriving in a later second
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 8 });
  await s.app.inject({
    method: 'POST',
    url: '/labels',
    payload: { track_id: tracks[7]!.track_id, popularity: 42 },
  });
  await eventually(
    () => p.count(`SELECT count() FROM labels FINAL WHERE track_id = '${tracks[7]!.track_id}'`),
    (n) => n === 1,
  );
  const again = await read();
  assert.equal(again.sha256, first.sha256, 'the same training set, the later label left out');
  assert.deepEqual(again.rows, first.rows);
  const now = await loadTrainingData({ kind: 'clickhouse', cfg: p.cfg });
  assert.equal(now.rows.length, first.rows.length + 1, 'a run started now has the new label');
  assert.match(now.description, /labels arrived by/);
});
