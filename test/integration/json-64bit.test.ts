/**
 * ClickHouse 25.8 changed `output_format_json_quote_64bit_integers` to 0: UInt64 and Int64 values
 * (every count(), for one) come back as JSON numbers, where 18.16 quotes them as strings. The API's
 * answers and the CLI's parsed results must not depend on that. After a replay scored on the real
 * 18.16 server, the same rows are loaded into chdb (a current engine: quotes nothing), every query
 * the API runs is run on both, and the API's responses built from each are compared: same values,
 * same JSON types.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildApp } from '../../api/app.ts';
import { FeedHub } from '../../api/feed/hub.ts';
import type { StorageReader } from '../../api/storage.ts';
import { storageReader } from '../../api/storage.ts';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import { compareSql, parseComparison } from '../../registry/compare.ts';
import { versionOf } from '../../registry/serving.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { replayCsv } from '../../producers/replay.ts';
import { runOnChdb } from '../sql/chdb.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT } from '../helpers/services.ts';
import { apiReadUrls, assertSameJson, baseTables } from '../helpers/same-answers.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
const N = 200;

before(async () => {
  p = await isolatedPipeline();
  s = await startScoringApp(p);
  await writeDriftReferences(p.client, versionOf(s.models), s.models);
  await replayCsv(s.publisher, { path: 'data/spotify_tracks_sample.csv', limit: N, quiet: true });
  await eventually(
    () => p.count('SELECT count() FROM predictions FINAL'),
    (n) => n >= SCORES_PER_EVENT * N,
    90_000,
  ); // A shadow version's rows (scores one point higher), so `compare` has something to compare.
  await p.client.command({
    query: `INSERT INTO shadow_predictions
      SELECT event_id, track_id, track_genre, model, concat(model, '-v2'), 'v2', score + 1, popularity,
             inference_us, latency_ms, event_time, scored_at
      FROM predictions FINAL`,
  });
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

/** chdb setup: the schema, then every stored row of 18.16, as JSONEachRow inserts. */
async function copyToChdbSetup(): Promise<string[]> {
  const inserts: string[] = [];
  for (const table of baseTables()) {
    const rs = await p.client.query({ query: `SELECT * FROM ${table}`, format: 'JSONEachRow' });
    const rows = await rs.json<Record<string, unknown>>();
    if (rows.length)
      inserts.push(
        `INSERT INTO ${table} FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`,
      );
  }
  return [MIGRATIONS_TABLE, ...loadMigrations().flatMap((m) => m.statements), ...inserts];
}

/** Records every query the API runs on 18.16, so the same texts can be run on chdb. */
function recording(inner: StorageReader, queries: string[]): StorageReader {
  return {
    rows<T>(what: string, query: string) {
      queries.push(query);
      return inner.rows<T>(what, query);
    },
  };
}

/** Answers each query with chdb's rows for exactly that text (run beforehand, in one go). */
function replaying(results: Map<string, Record<string, unknown>[]>): StorageReader {
  return {
    rows<T>(_what: string, query: string) {
      const rows = results.get(query);
      if (!rows) throw new Error(`not run on chdb: ${query.slice(0, 200)}`);
      return Promise.resolve(rows as T[]);
    },
  };
}

test("the API's answers are the same, values and JSON types, from 18.16 (64-bit integers quoted) and a current ClickHouse (not)", async () => {
  const [track] = await (
    await p.client.query({ query: 'SELECT track_id FROM track_events LIMIT 1', format: 'JSONEachRow' })
  ).json<{ track_id: string }>();
  const urls = apiReadUrls(track!.track_id, versionOf(s.models));
  const deps = {
    cfg: { ...p.cfg, logLevel: 'warn' as const },
    models: s.models,
    publisher: s.publisher,
    clickhouse: p.client,
    hub: new FeedHub(),
    feedReady: () => true,
  };

  const queries: string[] = [];
  const old = await buildApp({ ...deps, storage: recording(storageReader(p.client, p.cfg), queries) });
  const fromOld = [];
  for (const url of urls) {
    const r = await old.inject({ url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    fromOld.push(r.json());
  }
  await old.close();

  const unique = [...new Set(queries)];
  const results = runOnChdb(unique, await copyToChdbSetup(), 100_000);
  for (const r of results.filter((x) => x.setup)) assert.fail(`chdb setup ${r.i} failed: ${r.error}`);
  const byQuery = new Map<string, Record<string, unknown>[]>();
  for (const r of results.filter((x) => !x.setup)) {
    assert.ok(r.ok, `on chdb: ${r.error}\n${unique[r.i]?.slice(0, 300)}`);
    byQuery.set(unique[r.i]!, r.rows ?? []);
  }
  // The current engine really answers 64-bit integers as numbers (else this test proves nothing).
  const countRows = byQuery.get(unique.find((q) => /count\(\)/.test(q))!)!;
  assert.ok(countRows.some((row) => Object.values(row).some((v) => typeof v === 'number')));

  const current = await buildApp({ ...deps, storage: replaying(byQuery) });
  for (const [i, url] of urls.entries()) {
    const r = await current.inject({ url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    assertSameJson(fromOld[i], r.json(), url);
  }
  await current.close();
});

test("`models compare`'s parsed result is the same from both engines", async () => {
  const query = compareSql('v2', 3600);
  const old = parseComparison(await (await p.client.query({ query, format: 'JSONEachRow' })).json());
  const [r] = runOnChdb([query], await copyToChdbSetup());
  assert.ok(r?.ok, r?.error);
  const current = parseComparison(r.rows ?? []);
  assertSameJson(JSON.parse(JSON.stringify(old)), JSON.parse(JSON.stringify(current)), 'compare');
  assert.ok(JSON.stringify(old).length > 20, 'compare has rows');
});
