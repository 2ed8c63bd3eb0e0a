/** The real ClickHouse server: migrations, round trips, deduplication, rollups, hostile strings. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrate } from '../../infra/migrate.ts';
import { sql, sqlString } from '../../lib/sql.ts';
import { freshDatabase, testConfig } from '../helpers/services.ts';
import { HOSTILE_STRINGS } from '../helpers/hostile-strings.ts';

const cfg = testConfig();
let db: Awaited<ReturnType<typeof freshDatabase>>;
before(async () => {
  db = await freshDatabase(cfg);
});
after(async () => {
  await db.client.close();
  await db.drop();
});

const row = (event_id: string, model: string, score: number, scored_at: number) => ({
  event_id,
  track_id: 't1',
  track_genre: "k-pop's",
  model,
  model_version: 'v1',
  score,
  popularity: 50,
  inference_us: 3.5,
  latency_ms: 12.25,
  event_time: scored_at - 1,
  scored_at,
});

test('migrations are idempotent: a second run applies nothing', async () => {
  assert.deepEqual(await migrate(db.cfg, db.database), []);
});

test('prediction rows written are read back unchanged, and a re-delivered batch collapses under FINAL', async () => {
  const now = Math.floor(Date.now() / 1000);
  const batch = ['rf', 'xgb', 'mlp', 'tabnet'].map((m, i) => row('e-1', m, 40 + i, now));
  await db.client.insert({ table: 'predictions', values: batch, format: 'JSONEachRow' });
  await db.client.insert({ table: 'predictions', values: batch, format: 'JSONEachRow' }); // a crash replay
  const rs = await db.client.query({
    query: 'SELECT model, score, track_genre, popularity FROM predictions FINAL ORDER BY score',
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ model: string; score: number; track_genre: string; popularity: number }>();
  assert.deepEqual(
    rows.map((r) => [r.model, r.score, r.track_genre, r.popularity]),
    [
      ['rf', 40, "k-pop's", 50],
      ['xgb', 41, "k-pop's", 50],
      ['mlp', 42, "k-pop's", 50],
      ['tabnet', 43, "k-pop's", 50],
    ],
  );
  const raw = await db.client.query({ query: 'SELECT count() AS n FROM predictions', format: 'JSONEachRow' });
  assert.ok(Number((await raw.json<{ n: string }>())[0]!.n) >= 4);
});

test('the per-minute rollup view aggregates what was inserted', async () => {
  const rs = await db.client.query({
    query:
      'SELECT model, countMerge(predictions) AS n, avgMerge(score_avg) AS avg_score FROM predictions_per_minute GROUP BY model ORDER BY model',
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ model: string; n: string; avg_score: number }>();
  assert.deepEqual(
    rows.map((r) => [r.model, Number(r.n), r.avg_score]),
    [
      ['mlp', 2, 42],
      ['rf', 2, 40],
      ['tabnet', 2, 43],
      ['xgb', 2, 41],
    ],
  );
});

test('hostile strings survive a round trip as SQL literals', async () => {
  for (const s of HOSTILE_STRINGS) {
    const rs = await db.client.query({ query: sql`SELECT ${s} AS s`, format: 'JSONEachRow' });
    const [got] = await rs.json<{ s: string }>();
    assert.equal(got?.s, s, `round trip of ${sqlString(s)}`);
  }
});
