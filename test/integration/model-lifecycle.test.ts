/**
 * The model lifecycle on the real broker and server: versions pushed to the registry, two
 * workers following the role topic, a promotion mid-replay (each event's four live rows from one
 * version, none missing or doubled), rollback on every worker within 5 s, shadow rows beside the
 * live ones, `compare` against an independent computation, a promotion refused then forced, a
 * corrupt upload refused, `/predict?version=`.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildApp } from '../../api/app.ts';
import { FeedHub } from '../../api/feed/hub.ts';
import type { Config } from '../../lib/config.ts';
import { ensureTopics } from '../../lib/kafka.ts';
import { createLogger } from '../../lib/logger.ts';
import { ARTIFACTS_DIR, scoreNamesOf } from '../../models/model-set.ts';
import type { FeatureRow } from '../../models/features.ts';
import { startPredictionsSource } from '../../api/feed/predictions-source.ts';
import { driftSql } from '../../dashboards/drift.ts';
import { LIVE_VERSION_SQL, VERSION_OF_ROW, versionErrorSql } from '../../warehouse/drift-sql.ts';
import { backfill } from '../../registry/backfill.ts';
import { createLifecycle } from '../../registry/lifecycle.ts';
import { publishRoles, readRoles } from '../../registry/role-topic.ts';
import { applyRoleChange } from '../../registry/roles.ts';
import { type Serving, startServing } from '../../registry/serving.ts';
import { readVersionDir } from '../../registry/store.ts';
import { createPublisher, type Publisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { FeatureInput, type ScoredEvent } from '../../schemas/index.ts';
import { eventually, isolatedPipeline, SCORES_PER_EVENT } from '../helpers/services.ts';
import { removeVariants, variant } from '../helpers/versions.ts';

const log = createLogger('test-lifecycle', process.env.TEST_LOG_LEVEL ?? 'silent');
const home = mkdtempSync(join(tmpdir(), 'hitstream-lifecycle-'));
let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let cfg: Config;
let lifecycle: ReturnType<typeof createLifecycle>;
let publisher: Publisher;
const workers: { worker: Worker; serving: Serving }[] = [];
let v1: string;
let worse: string;

before(async () => {
  p = await isolatedPipeline(4);
  cfg = { ...p.cfg, home, writeIntervalMs: 200 };
  await ensureTopics(cfg); // creates the (compacted) role topic
  lifecycle = createLifecycle(cfg, log);
  v1 = (await lifecycle.push(ARTIFACTS_DIR)).version;
  worse = (await lifecycle.push(variant('worse', 0.6))).version;
  await lifecycle.promote(v1); // the first live version: nothing to compare with
  publisher = await createPublisher(cfg);
  for (let i = 0; i < 2; i++) {
    const serving = await startServing(cfg, log);
    const worker = createWorker(cfg, { serving, metrics: createWorkerMetrics(), log });
    await worker.start();
    workers.push({ worker, serving });
  }
});
after(async () => {
  for (const w of workers) {
    await w.worker.stop(5_000);
    await w.serving.stop();
  }
  await publisher.close();
  await lifecycle.close();
  await p.cleanup();
  rmSync(home, { recursive: true, force: true });
  removeVariants();
  for (const dir of sameName) rmSync(dir, { recursive: true, force: true });
});

const query = async <T>(q: string) => (await p.client.query({ query: q, format: 'JSONEachRow' })).json<T>();
const served = () => workers.map((w) => w.serving.status());
const sameName: string[] = [];

test('both workers start on the live version from the registry', () => {
  assert.deepEqual(
    served().map((s) => s.live),
    [v1, v1],
  );
});

test('a promotion mid-replay (250 events/s, 2 workers): every event has one live row per model, all four from one version; both versions appear', async () => {
  // Events flow at 250/s before, during and after the swap (download, load, warm-up: 3-5 s
  // here, longer on a cold machine): the replay goes on, in 1 s slices, until both workers
  // serve the new version, and 2 s more.
  const slice = () =>
    replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 250, rate: 250, quiet: true });
  let n = (await slice()).sent;
  await lifecycle.promote(worse, { force: true });
  const deadline = Date.now() + 60_000;
  while (!served().every((x) => x.live === worse) && Date.now() < deadline) n += (await slice()).sent;
  assert.ok(
    served().every((x) => x.live === worse),
    'both workers swapped',
  );
  for (let i = 0; i < 2; i++) n += (await slice()).sent;
  assert.equal(
    await eventually(
      () => p.count('SELECT count() FROM predictions FINAL'),
      (c) => c >= SCORES_PER_EVENT * n,
    ),
    SCORES_PER_EVENT * n,
  );
  assert.equal(
    await p.count(
      `SELECT count() FROM (SELECT event_id, count() AS c, uniqExact(${VERSION_OF_ROW}) AS v, uniqExact(model) AS m FROM predictions FINAL GROUP BY event_id) WHERE c != ${SCORES_PER_EVENT} OR v != 1 OR m != ${SCORES_PER_EVENT}`,
    ),
    0,
    'one row per event per score, from one version',
  );
  const versions = await p.client.query({
    query: `SELECT ${VERSION_OF_ROW} AS v, count() AS n, min(scored_at) AS first, max(scored_at) AS last FROM predictions FINAL GROUP BY v`,
    format: 'JSONEachRow',
  });
  const seen = await versions.json<{ v: string; n: string }>();
  assert.equal(seen.length, 2, `both versions scored events: ${JSON.stringify(seen)}`);
});

test('rollback restores the previous live version on every worker within 5 s', async () => {
  const t0 = Date.now();
  const state = await lifecycle.rollback();
  assert.equal(state.live, v1);
  await eventually(
    () => Promise.resolve(served()),
    (s) => s.every((x) => x.live === v1),
    5_000,
  );
  assert.deepEqual(
    served().map((s) => s.live),
    [v1, v1],
  );
  assert.ok(Date.now() - t0 < 5_000, `${Date.now() - t0} ms`);
});

test('shadow on: 4 live and 4 shadow rows per event; compare matches an independent computation; a worse version is refused, then forced', async () => {
  await lifecycle.shadow(worse);
  await eventually(
    () => Promise.resolve(served()),
    (s) => s.every((x) => x.shadow === worse),
    30_000,
  );
  // The live feed, with one client that asks for shadow scores and one that does not.
  const hub = new FeedHub();
  const received = { plain: [] as ScoredEvent[], shadow: [] as ScoredEvent[] };
  for (const kind of ['plain', 'shadow'] as const) {
    const client = {
      send: (t: string | Buffer) => received[kind].push(JSON.parse(t.toString()) as ScoredEvent),
      bufferedAmount: () => 0,
    };
    hub.add(client);
    hub.setFilter(client, { shadow: kind === 'shadow' });
  }
  const feed = await startPredictionsSource(cfg, log, (events) => hub.publish(events));
  await eventually(() => Promise.resolve(feed.ready()), Boolean, 30_000);
  const before = await p.count('SELECT count() FROM predictions FINAL');
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 300, quiet: true });
  assert.equal(
    await eventually(
      () => p.count('SELECT count() FROM shadow_predictions FINAL'),
      (c) => c >= SCORES_PER_EVENT * 300,
    ),
    SCORES_PER_EVENT * 300,
  );
  assert.equal(
    await eventually(
      () => p.count('SELECT count() FROM predictions FINAL'),
      (c) => c >= before + SCORES_PER_EVENT * 300,
    ),
    before + SCORES_PER_EVENT * 300,
  );
  assert.equal(
    await p.count(
      `SELECT count() FROM predictions FINAL WHERE event_id IN (SELECT event_id FROM shadow_predictions) AND ${VERSION_OF_ROW} = '${v1}'`,
    ),
    SCORES_PER_EVENT * 300,
    'each shadowed event has its live rows (one per score), from the live version',
  );

  await eventually(
    () => Promise.resolve(received.shadow.length),
    (n) => n >= 300,
    30_000,
  );
  await feed.stop();
  assert.ok(
    received.shadow.every(
      (e) =>
        e.version === v1 &&
        e.shadow?.version === worse &&
        Object.keys(e.shadow.scores).length === SCORES_PER_EVENT,
    ),
    'the shadow subscriber gets both versions’ scores',
  );
  assert.ok(
    received.plain.length >= 300 && received.plain.every((e) => e.version === v1 && e.shadow === undefined),
    'the others get live scores only',
  );
  assert.ok(
    received.shadow.some((e) => e.shadow!.scores.mlp !== e.scores.mlp),
    'the shadow MLP differs',
  );

  const c = await lifecycle.compare(3600);
  assert.deepEqual([c.live, c.shadow], [v1, worse]);
  // The same numbers computed here from the raw rows.
  const rs = await p.client.query({
    query: `SELECT l.model AS model, l.score AS live, s.score AS shadow, l.popularity AS label
            FROM predictions AS l FINAL ALL INNER JOIN (SELECT event_id, model, score FROM shadow_predictions FINAL) AS s USING (event_id, model)`,
    format: 'JSONEachRow',
  });
  const raw = await rs.json<{ model: string; live: number; shadow: number; label: number }>();
  for (const m of scoreNamesOf()) {
    const rows = raw.filter((r) => r.model === m);
    const rmse = (k: 'live' | 'shadow') =>
      Math.sqrt(rows.reduce((a, r) => a + (r[k] - r.label) ** 2, 0) / rows.length);
    const got = c.rows.find((r) => r.model === m)!;
    assert.equal(got.n, 300, m);
    assert.ok(Math.abs(got.live_rmse - rmse('live')) < 1e-3, `${m} live ${got.live_rmse} vs ${rmse('live')}`);
    assert.ok(
      Math.abs(got.shadow_rmse - rmse('shadow')) < 1e-3,
      `${m} shadow ${got.shadow_rmse} vs ${rmse('shadow')}`,
    );
  }
  const mlp = c.rows.find((r) => r.model === 'mlp')!;
  assert.ok(mlp.shadow_rmse > mlp.live_rmse, 'the scaled MLP is worse');

  // Monitoring by version, with no dashboards run: /drift's error of the shadow version is the
  // independent RMSE, and the dashboards' panels draw a series per version and role.
  // (worse was live once too, in the promotion test: its live rows count as well.)
  const errors = await query<{ model: string; n: string; rmse: number }>(versionErrorSql(3600, worse));
  const scoredByWorse = await query<{ model: string; score: number; label: number }>(
    ['predictions', 'shadow_predictions']
      .map(
        (t) =>
          `SELECT model, score, popularity AS label FROM ${t} FINAL WHERE model_version = concat(model, '-', '${worse}') AND isNotNull(popularity)`,
      )
      .join(' UNION ALL '),
  );
  for (const m of scoreNamesOf()) {
    const rows = scoredByWorse.filter((r) => r.model === m);
    const independent = Math.sqrt(rows.reduce((a, r) => a + (r.score - r.label) ** 2, 0) / rows.length);
    const e = errors.find((r) => r.model === m)!;
    assert.ok(rows.length > 300, `${m}: live and shadow rows`);
    assert.equal(Number(e.n), rows.length, m);
    assert.ok(Math.abs(Number(e.rmse) - independent) < 1e-3, `${m}: ${e.rmse} vs ${independent}`);
  }
  const panels = driftSql((col) => `${col} >= now() - 3600`);
  const seriesOf = async (q: string) => new Set((await query<{ name: string }>(q)).map((r) => r.name));
  for (const q of [panels.scorePsi, panels.error]) {
    const names = await seriesOf(q);
    for (const m of scoreNamesOf()) {
      assert.ok(names.has(`${m} · ${v1}`), `${m} · ${v1} in ${[...names].join(', ')}`);
      assert.ok(
        names.has(`${m} · ${worse} (shadow)`),
        `${m} · ${worse} (shadow) in ${[...names].join(', ')}`,
      );
    }
  }
  assert.ok(c.rows.find((r) => r.model === 'rf')!.disagreement < 1e-6, 'the unchanged RF agrees with itself');

  // The ensemble weighs the MLP a little since this training (0.015): it is named worse too.
  await assert.rejects(lifecycle.promote(worse), /is worse than live on (ensemble, )?mlp.*--force/s);
  assert.equal((await readRoles(cfg, log))?.live, v1, 'refused: nothing changed');
  const forced = await lifecycle.promote(worse, { force: true });
  assert.deepEqual([forced.live, forced.shadow], [worse, null], 'the promoted shadow is shadow no more');
  await eventually(
    () => Promise.resolve(served()),
    (s) => s.every((x) => x.live === worse && x.shadow === null),
    30_000,
  );
  // Shadow off: new events get only live rows.
  await replayCsv(publisher, { path: 'data/spotify_tracks_sample.csv', limit: 100, quiet: true });
  await eventually(
    () => p.count('SELECT count() FROM predictions FINAL'),
    (n) => n >= before + SCORES_PER_EVENT * 400,
  );
  assert.equal(await p.count('SELECT count() FROM shadow_predictions FINAL'), SCORES_PER_EVENT * 300);
  const names = await seriesOf(panels.scorePsi);
  assert.ok(
    names.has(`mlp · ${worse}`),
    `the promoted version's live scores have their series: ${[...names].join(', ')}`,
  );
  const [live] = await query<{ v: string }>(`SELECT ${LIVE_VERSION_SQL} AS v`);
  assert.equal(live?.v, worse, 'feature drift now compares with the promoted version’s training data');
});

test('a corrupt upload is refused by checksum and nothing changes; an unknown version is refused by name', async () => {
  const corrupt = (await lifecycle.push(variant('corrupt'))).version;
  // A chunk overwritten after the push (what a torn or tampered upload leaves).
  await p.client.insert({
    table: 'model_files',
    format: 'JSONEachRow',
    values: [
      {
        version: corrupt,
        path: 'rf/forest-options.json',
        chunk: 0,
        data: Buffer.from('{}').toString('base64'),
        pushed_at: Math.floor(Date.now() / 1000) + 60,
      },
    ],
  });
  const rolesBefore = await readRoles(cfg, log);
  await assert.rejects(
    lifecycle.promote(corrupt, { force: true }),
    /rf\/forest-options.json does not match its checksum/,
  );
  await assert.rejects(lifecycle.shadow(corrupt), /does not match its checksum/);
  assert.deepEqual(await readRoles(cfg, log), rolesBefore);
  await assert.rejects(lifecycle.promote('no-such-version'), /no-such-version is not in the registry/);
  assert.ok((await readVersionDir(ARTIFACTS_DIR)).version === v1);
});

test('a version name already in the registry with other files is refused, naming it; the same files again are accepted', async () => {
  // A copy of a version's folder with changed files (before run times were in the name, a second
  // training on the same day, data and seed made this): the same name, other weights.
  const dir = mkdtempSync(join(tmpdir(), 'hs-same-name-'));
  sameName.push(dir);
  cpSync(ARTIFACTS_DIR, dir, { recursive: true });
  const path = join(dir, 'mlp', 'weights.bin');
  const w = readFileSync(path);
  w.writeFloatLE(w.readFloatLE(0) + 0.5, 0);
  writeFileSync(path, w);
  await assert.rejects(lifecycle.push(dir), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'version_conflict');
    assert.match(err.message, new RegExp(`version ${v1} is in the registry already with other files`));
    return true;
  });
  assert.equal((await lifecycle.push(ARTIFACTS_DIR)).version, v1, 'the same files again: accepted');
});

test('/predict?version= scores with the live or shadow version and refuses another', async () => {
  const serving = workers[0]!.serving;
  const app = await buildApp({
    cfg: { ...cfg, logLevel: 'silent' },
    serving,
    publisher,
    clickhouse: p.client,
    hub: new FeedHub(),
    feedReady: () => true,
  });
  const event = JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: Record<string, unknown>;
  };
  // /predict takes the audio features (and the genre) alone.
  const features = Object.fromEntries(
    Object.entries(event.value).filter(([k]) => k in FeatureInput.properties),
  );
  const live = await app.inject({ method: 'POST', url: `/predict?version=${worse}`, payload: features });
  assert.equal(live.statusCode, 200, live.body);
  assert.equal(live.json<{ version: string }>().version, worse);
  const other = await app.inject({ method: 'POST', url: '/predict?version=nope', payload: features });
  assert.equal(other.statusCode, 404);
  assert.equal(other.json<{ code: string }>().code, 'unknown_version');
  await app.close();
});

test('backfill scores every stored event with a version as shadow rows, and compare can judge it', async () => {
  const events = await p.count('SELECT count() FROM track_events FINAL');
  const progress: number[] = [];
  const r = await backfill(cfg, log, {
    version: v1,
    from: new Date(Date.now() - 3600_000),
    to: new Date(Date.now() + 60_000),
    pageSize: Math.ceil(events / 4), // four pages or five, whatever the earlier tests replayed
    onProgress: (x) => progress.push(x.done),
  });
  assert.equal(r.events, events);
  assert.equal(
    await p.count(`SELECT count() FROM shadow_predictions FINAL WHERE set_version = '${v1}'`),
    SCORES_PER_EVENT * events,
  );
  assert.equal(
    await p.count(
      `SELECT count() FROM (SELECT event_id FROM shadow_predictions FINAL WHERE set_version = '${v1}' GROUP BY event_id HAVING count() != ${SCORES_PER_EVENT})`,
    ),
    0,
    'one shadow row per event per score',
  );
  assert.ok(
    progress.length >= 4 && progress.at(-1) === events,
    `progress reported per page: ${progress.join(',')}`,
  );
  const c = await lifecycle.compare(3600, v1);
  assert.equal(c.shadow, v1);
  assert.ok(c.rows.every((row) => row.n > 0));
});

test('two role changes made at once (same seq): the later one in the topic wins, on running processes and for a fresh read alike', async () => {
  const state = (await readRoles(cfg, log))!;
  // What two operators publish when both read `state` before either wrote: both seq + 1.
  const first = applyRoleChange(
    state,
    { action: 'shadow', version: v1 },
    { known: new Set([v1, worse]), by: 'a', now: new Date() },
  );
  const second = applyRoleChange(
    state,
    { action: 'rollback' },
    { known: new Set([v1, worse]), by: 'b', now: new Date() },
  );
  assert.equal(first.seq, second.seq);
  await publishRoles(cfg, first);
  await publishRoles(cfg, second);
  assert.deepEqual(await readRoles(cfg, log), second, 'a fresh read (and compaction) keeps the last');
  // Before, running processes kept the first (they took only a higher seq): they disagreed.
  await eventually(
    () => Promise.resolve(served()),
    (s) => s.every((x) => x.live === second.live && x.shadow === second.shadow),
    30_000,
  );
});

test('a promotion whose worker-thread load fails keeps the old version serving on every worker, and says why', async () => {
  const before = served();
  // Files that pass the registry's checksums (they are what was pushed) but do not decode.
  const dir = variant('undecodable');
  writeFileSync(join(dir, 'rf', 'forest.bin.gz'), Buffer.from('not a gzip stream'));
  const bad = (await lifecycle.push(dir)).version;
  await lifecycle.promote(bad, { force: true });
  const after = await eventually(
    () => Promise.resolve(served()),
    (s) => s.every((x) => (x.loadFailures[bad] ?? 0) >= 1),
    30_000,
  );
  for (const [i, s] of after.entries()) {
    assert.equal(s.live, before[i]!.live, 'the version served before the promotion still serves');
    assert.equal(s.wanted?.live, bad);
    assert.match(s.error ?? '', /incorrect header check/, 'the failure says what went wrong');
  }
  const [first] = workers;
  const { value } = JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: FeatureRow;
  };
  const scored = await first!.serving.live().models.predictBatch([value]);
  assert.ok(Number.isFinite(scored.scores.rf[0]), 'and it scores');
  await lifecycle.rollback();
});
