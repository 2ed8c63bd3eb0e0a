/**
 * After real replays: every dashboard panel query (macros expanded) runs on the real ClickHouse
 * and returns the columns its panel expects, and on chdb; a shifted stream is detected as drift
 * on exactly the shifted features, via GET /drift and via the dashboard's PSI query.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { driftSql } from '../../dashboards/drift.ts';
import { generatedFiles } from '../../dashboards/generate.ts';
import { expandMacros, panelQueries } from '../../dashboards/macros.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import type { LoadedModels } from '../../models/model-set.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { versionOf } from '../../registry/serving.ts';
import { loadMigrations, MIGRATIONS_TABLE } from '../../infra/migrate.ts';
import type { Publisher } from '../../producers/publisher.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { FEATURE_NAMES } from '../../schemas/index.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { runOnChdb } from '../sql/chdb.ts';
import { eventually, isolatedPipeline, testKafka } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
let models: LoadedModels;
let publisher: Publisher;
let app: FastifyInstance;
const SHIFTED = ['energy', 'loudness'];

before(async () => {
  p = await isolatedPipeline();
  // Explanations of 2% of the events, with no budget: the attribution panel has rows to draw.
  s = await startScoringApp(p, { cfg: { explainSample: 0.02, explainBudget: 100 } });
  ({ models, publisher, app } = s);
  // What `models push` (or a worker's start) writes: the dashboards' SQL reads references here.
  await writeDriftReferences(p.client, versionOf(models), models);
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

type Drift = {
  version: string;
  role: string | null;
  features: Record<string, { psi: number | null; n: number }>;
  models: Record<string, { n: number; labelled: { n: number; rmse: number | null } }>;
};

test('reference-like rows show no drift; the same rows shifted (energy +0.25, loudness +6 dB) drift on exactly those features', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv');
  const past = new Date(Date.now() - 40 * 60_000).toISOString();
  const now = new Date().toISOString();
  const reference = tracks.map((t) => ({ ...trackEventFromCsv(t, past), source: 'test' as const }));
  const shifted = tracks.map((t) => ({
    ...trackEventFromCsv(t, now),
    source: 'test' as const,
    energy: Math.min(1, t.energy + 0.25),
    loudness: Math.min(5, t.loudness + 6),
  }));
  for (let i = 0; i < reference.length; i += 500) await publisher.publish(reference.slice(i, i + 500));
  for (let i = 0; i < shifted.length; i += 500) await publisher.publish(shifted.slice(i, i + 500));
  const n = tracks.length;
  await eventually(
    () => p.count('SELECT count() FROM track_events FINAL'),
    (c) => c >= 2 * n,
    120_000,
  );

  // The last hour holds both streams; the reference alone is the 45–35 minutes ago slice.
  const old = (await app.inject({ url: '/drift?window=1h' })).json<Drift>();
  assert.equal(old.features.energy?.n, 2 * n);
  assert.deepEqual([old.version, old.role], [versionOf(models), 'live']);
  for (const m of models.scoreNames) {
    assert.equal(old.models[m]?.n, 2 * n, `${m}: the live version's scores`);
    assert.equal(old.models[m]?.labelled.n, 2 * n, `${m}: labelled`);
    assert.ok((old.models[m]?.labelled.rmse ?? 0) > 5, `${m}: RMSE ${old.models[m]?.labelled.rmse}`);
  }
  const recent = (await app.inject({ url: '/drift?window=10m' })).json<Drift>();
  for (const f of FEATURE_NAMES) {
    const psi = recent.features[f]?.psi;
    assert.ok(psi !== null && psi !== undefined, f);
    if (SHIFTED.includes(f)) assert.ok(psi >= 0.2, `${f} shifted: PSI ${psi}`);
    else assert.ok(psi < 0.1, `${f} unchanged: PSI ${psi}`);
  }

  // The dashboard's PSI query over the reference minutes and over the shifted ones.
  const q = driftSql().featurePsi;
  const run = async (from: Date, to: Date) => {
    const rs = await p.client.query({ query: expandMacros(q, from, to), format: 'JSONEachRow' });
    const rows = await rs.json<{ name: string; psi: number }>();
    return new Map(rows.map((r) => [r.name, Number(r.psi)]));
  };
  const refPsi = await run(new Date(Date.now() - 45 * 60_000), new Date(Date.now() - 35 * 60_000));
  for (const f of FEATURE_NAMES)
    assert.ok((refPsi.get(f) ?? 1) < 0.1, `reference ${f}: PSI ${refPsi.get(f)}`);
  const newPsi = await run(new Date(Date.now() - 10 * 60_000), new Date(Date.now() + 60_000));
  for (const f of FEATURE_NAMES) {
    const v = newPsi.get(f) ?? 0;
    if (SHIFTED.includes(f)) assert.ok(v >= 0.2, `dashboard ${f}: PSI ${v}`);
    else assert.ok(v < 0.2, `dashboard ${f}: PSI ${v}`);
  }
});

test('every dashboard panel query runs on the real ClickHouse with data and returns its columns, and runs on chdb', async () => {
  // Dead-letter panels need dead letters.
  const producer = testKafka(p.cfg).producer();
  await producer.connect();
  await producer.send({ topic: p.cfg.topicTracks, messages: [{ value: '{"not": json' }, { value: '' }] });
  await producer.disconnect();
  await eventually(
    () => p.count('SELECT count() FROM dead_letters FINAL'),
    (c) => c >= 2,
  );
  // The attribution panel draws the workers' explanations, written a few seconds after scoring.
  await eventually(
    () => p.count('SELECT count() FROM explanations'),
    (c) => c > 0,
    120_000,
  );
  const from = new Date(Date.now() - 3600_000);
  const to = new Date(Date.now() + 60_000);
  const all: { title: string; sql: string; format: number }[] = [];
  for (const name of ['dashboards/generated/pipeline.json', 'dashboards/generated/drift.json']) {
    const d = JSON.parse(generatedFiles()[name]!) as { panels: unknown[] };
    for (const q of panelQueries(d))
      all.push({ title: `${name}: ${q.title}`, sql: expandMacros(q.rawSql, from, to), format: q.format });
  }
  assert.ok(all.length >= 10, `${all.length} queries`);
  for (const q of all) {
    const rs = await p.client.query({ query: q.sql, format: 'JSON' });
    const body = await rs.json<{ meta: { name: string }[]; data: unknown[] }>();
    const cols = (body.meta ?? []).map((m) => m.name);
    assert.ok(body.data.length > 0, `${q.title}: no rows after a replay`);
    if (q.format === 0)
      assert.ok(
        cols.includes('time'),
        `${q.title}: a time series needs a time column, got ${cols.join(', ')}`,
      );
    assert.ok(cols.length >= 1);
  }
  const setup = [MIGRATIONS_TABLE, ...loadMigrations().flatMap((m) => m.statements)];
  const results = runOnChdb(
    all.map((q) => q.sql),
    setup,
  );
  for (const r of results) assert.ok(r.ok, `chdb: ${all[r.i]?.title}: ${r.error}`);

  // The same panels through the API that /dashboards.html draws: rows, with times as epoch seconds.
  const listed = (await app.inject({ url: '/dashboards/panels' })).json<{
    dashboards: { uid: string; panels: { id: number; title: string; sql?: string; format?: number }[] }[];
  }>().dashboards;
  const sqlPanels = listed.flatMap((d) => d.panels.filter((x) => x.sql).map((x) => ({ ...x, uid: d.uid })));
  assert.equal(sqlPanels.length, all.length, 'the page lists every panel query of the Grafana JSON');
  const [f, t] = [Math.floor(from.getTime() / 1000), Math.ceil(to.getTime() / 1000)];
  for (const panel of sqlPanels) {
    const r = await app.inject({
      url: `/dashboards/panels/${panel.uid}.${panel.id}?seconds=${t - f}&to=${t}`,
    });
    assert.equal(r.statusCode, 200, `${panel.title}: ${r.body}`);
    const { columns, rows } = r.json<{ columns: string[]; rows: unknown[][] }>();
    assert.ok(rows.length > 0, `${panel.title}: no rows through the API`);
    const ti = columns.indexOf('time');
    if (panel.format === 0) {
      const times = rows.map((row) => row[ti] as number);
      assert.ok(
        times.every((x) => typeof x === 'number' && x >= f - 60 && x <= t),
        `${panel.title}: times are epoch seconds in the range (${times[0]})`,
      );
    }
  }
  const badRange = await app.inject({ url: `/dashboards/panels/hitstream-drift.1?seconds=99999999` });
  assert.equal(badRange.statusCode, 400);
  assert.equal(badRange.json<{ field: string }>().field, 'seconds', badRange.body);
  // Only the dashboards' own queries run: a name that is not a panel's is refused by the schema.
  const noPanel = await app.inject({ url: `/dashboards/panels/hitstream-drift.999?seconds=60` });
  assert.deepEqual([noPanel.statusCode, noPanel.json<{ field: string }>().field], [400, 'panel']);

  // Last (it becomes the registry-less fallback's live version): a version this process does not
  // serve has /drift read its references from drift_references; it scored nothing here.
  await writeDriftReferences(p.client, 'pushed-elsewhere', models);
  const other = (await app.inject({ url: '/drift?window=1h&version=pushed-elsewhere' })).json<Drift>();
  assert.deepEqual(
    [other.version, other.role, (other.features.energy?.n ?? 0) > 0],
    ['pushed-elsewhere', null, true],
  );
  assert.equal(other.models.rf?.n, 0);
  const unknown = await app.inject({ url: '/drift?version=never-pushed' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json<{ code: string }>().code, 'unknown_version');
  assert.match(unknown.body, /never-pushed has no drift references/);
});
