/** The HTTP API and the WebSocket feed against the real broker and server. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { MODEL_FEATURES } from '../../models/features.ts';
import type { ExplainResponse } from '../../schemas/api.ts';
import { scoreNamesOf } from '../../models/model-set.ts';
import { buildApp } from '../../api/app.ts';
import { createClickhouse } from '../../lib/clickhouse.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
let app: FastifyInstance;
const features = {
  duration_ms: 210000,
  explicit: false,
  danceability: 0.7,
  energy: 0.8,
  key: 5,
  loudness: -5,
  mode: 1,
  speechiness: 0.05,
  acousticness: 0.1,
  instrumentalness: 0,
  liveness: 0.1,
  valence: 0.6,
  tempo: 120,
  time_signature: 4,
};

before(async () => {
  p = await isolatedPipeline();
  s = await startScoringApp(p, { feed: true, listen: true, cfg: { apiKey: 'sesame' } });
  app = s.app;
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

test('POST /predict answers four scores in 0..100, timings and a TabNet mask over every feature', async () => {
  const r = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, track_genre: 'pop' },
  });
  assert.equal(r.statusCode, 200);
  const body = r.json<{
    scores: Record<string, number>;
    inference_us: Record<string, number>;
    tabnet_mask: Record<string, number>;
  }>();
  // The four, and the ensemble when the checkout's models ship one.
  assert.deepEqual(Object.keys(body.scores), [...scoreNamesOf()]);
  for (const m of scoreNamesOf()) assert.ok(body.scores[m]! >= 0 && body.scores[m]! <= 100, m);
  assert.equal(Object.keys(body.tabnet_mask).length, MODEL_FEATURES.length);
  const changed = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, track_genre: 'pop', acousticness: 0.95, energy: 0.1, loudness: -25 },
  });
  assert.notDeepEqual(
    changed.json<{ scores: unknown }>().scores,
    body.scores,
    'the scores move with the features',
  );
  // The artist is optional: one the models know moves the scores, an unknown one is no artist.
  const scoresWith = async (artists: string) =>
    (
      await app.inject({
        method: 'POST',
        url: '/predict',
        payload: { ...features, track_genre: 'pop', artists },
      })
    ).json<{ scores: Record<string, number> }>().scores;
  const sample = 'Jason Mraz'; // many rows in the training data of the checkout's models
  assert.notDeepEqual(await scoresWith(sample), body.scores, 'a known artist moves the scores');
  assert.deepEqual(await scoresWith('No Such Artist'), body.scores, 'an unknown artist is no artist');
  const bad = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, artists: 42 },
  });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json<{ field: string }>().field, 'artists');
});

test('POST /predict under concurrency: requests batched together each get their own scores, as when sent alone', async () => {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv', { limit: 60 });
  const bodies = tracks.map(
    ({ track_id: _i, artists: _a, album_name: _al, track_name: _t, popularity: _p, ...f }) => f,
  );
  const post = (body: object) =>
    fetch(`${s.base}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => ({
      status: r.status,
      body: (await r.json()) as { scores: Record<string, number>; tabnet_mask: Record<string, number> },
    }));
  // All at once: they arrive together and are scored in batches.
  const together = await Promise.all(bodies.map(post));
  for (const [i, body] of bodies.entries()) {
    const alone = await post(body);
    assert.equal(together[i]!.status, 200);
    // Rounded to 0.01 after scoring; a batch's arithmetic may differ from one row's in the last bits.
    assert.deepEqual(Object.keys(together[i]!.body.scores), Object.keys(alone.body.scores));
    for (const [m, v] of Object.entries(alone.body.scores))
      assert.ok(Math.abs(together[i]!.body.scores[m]! - v) <= 0.011, `request ${i}: its own ${m} score`);
    for (const [f, w] of Object.entries(alone.body.tabnet_mask))
      assert.ok(
        Math.abs(together[i]!.body.tabnet_mask[f]! - w) <= 0.001,
        `request ${i}: its own mask (${f})`,
      );
  }
  // Not all the same answer: the rows differ, so do their scores.
  assert.ok(new Set(together.map((t) => t.body.scores.rf)).size > 30);
});

test('POST /explain: every score explained; base + Σ contributions = its output = the /predict score; bad input as /predict', async () => {
  const body = { ...features, track_genre: 'pop', artists: 'Taylor Swift' };
  const [r, p] = await Promise.all([
    app.inject({ method: 'POST', url: '/explain', payload: body }),
    app.inject({ method: 'POST', url: '/predict', payload: body }),
  ]);
  assert.equal(r.statusCode, 200, r.body);
  const e = r.json<ExplainResponse>();
  const scores = p.json<{ scores: Record<string, number> }>().scores;
  assert.deepEqual(Object.keys(e.explanations), Object.keys(scores), 'every score /predict gives');
  assert.deepEqual(Object.keys(e.inputs), [...MODEL_FEATURES]);
  assert.equal(e.feature_kinds.genre_popularity, 'genre');
  assert.equal(e.feature_kinds.artist_popularity, 'artist');
  assert.equal(e.feature_kinds.energy, 'audio');
  for (const [name, x] of Object.entries(e.explanations)) {
    const sum = Object.values(x.contributions).reduce((a, v) => a + v, x.base);
    assert.ok(Math.abs(sum - x.output) < 1e-6, `${name}: base + Σ = output`);
    assert.ok(
      Math.abs(x.output - scores[name]!) < 0.006,
      `${name}: ${x.output} explains the score ${scores[name]}`,
    );
    assert.equal(
      x.method,
      name === 'ensemble'
        ? 'weighted-sum'
        : name === 'rf' || name === 'xgb'
          ? 'tree-shap'
          : 'permutation-shap',
    );
  }
  const bad = await app.inject({
    method: 'POST',
    url: '/explain',
    payload: { ...features, energy: 2, genre: 'pop' },
  });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(
    bad
      .json<{ errors: { field: string; code: string }[] }>()
      .errors.map((x) => `${x.field}:${x.code}`)
      .sort(),
    ['energy:out_of_range', 'genre:unknown_field'],
  );
  const unknown = await app.inject({ method: 'POST', url: '/explain?version=v-nope', payload: features });
  assert.equal(unknown.statusCode, 404);
  assert.match(unknown.json<{ message: string }>().message, /version v-nope is not served here/);
});

test('bad requests get JSON errors naming the field', async () => {
  const missing = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, tempo: undefined },
  });
  assert.equal(missing.statusCode, 400);
  assert.deepEqual(missing.json(), {
    code: 'invalid_request',
    message: 'tempo is required',
    field: 'tempo',
    errors: [{ field: 'tempo', code: 'missing_field', message: 'tempo is required' }],
  });
  const range = await app.inject({ method: 'POST', url: '/predict', payload: { ...features, energy: 2 } });
  assert.equal(range.statusCode, 400);
  assert.equal(range.json<{ field: string }>().field, 'energy');
  // Every fault at once, with the codes dead letters use; nothing coerced, nothing silently dropped
  // (a misspelt optional field such as `genre` would otherwise be scored as no genre).
  const several = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, energy: 2, tempo: '120', genre: 'pop' },
  });
  assert.equal(several.statusCode, 400);
  const body = several.json<{ message: string; errors: { field: string; code: string }[] }>();
  assert.deepEqual(body.errors.map((e) => `${e.field}:${e.code}`).sort(), [
    'energy:out_of_range',
    'genre:unknown_field',
    'tempo:wrong_type',
  ]);
  assert.match(body.message, /\(and 2 more in errors\)$/);
  // What the body parser refuses gets the codes used everywhere else, not Fastify's own.
  const post = (payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url: '/predict', payload, headers: { 'content-type': contentType } });
  const notJson = await post('{"energy": 0.5,');
  assert.deepEqual([notJson.statusCode, notJson.json<{ code: string }>().code], [400, 'malformed_json']);
  const tooLarge = await post(JSON.stringify({ ...features, pad: 'x'.repeat(1024 * 1024) }));
  assert.deepEqual([tooLarge.statusCode, tooLarge.json<{ code: string }>().code], [413, 'body_too_large']);
  const text = await post('<energy>0.5</energy>', 'application/xml');
  assert.deepEqual([text.statusCode, text.json<{ code: string }>().code], [415, 'unsupported_media_type']);
  const noKey = await app.inject({ method: 'POST', url: '/tracks', payload: { track_id: 'x', ...features } });
  assert.equal(noKey.statusCode, 401);
  const nowhere = await app.inject({ url: '/predictions?x=1' });
  assert.equal(nowhere.statusCode, 404);
  assert.deepEqual(nowhere.json(), {
    code: 'not_found',
    message: 'no route GET /predictions: the endpoints are listed at /docs',
  });
  const win = await app.inject({ url: '/drift?window=soon' });
  assert.equal(win.statusCode, 400);
  assert.equal(win.json<{ field: string }>().field, 'window');
});

test('POST /tracks answers per record, and accepted tracks get stored predictions and reach the WebSocket feed', async (t) => {
  const ws = new WebSocket(`${s.base.replace('http', 'ws')}/feed`);
  // Closed even when an assertion fails: an open socket kept the file alive until the 15-min timeout.
  t.after(() => ws.close());
  const received: { type: string; track_id?: string; scores?: Record<string, number> }[] = [];
  ws.on('message', (d) => received.push(JSON.parse((d as Buffer).toString()) as (typeof received)[number]));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'subscribe', genre: 'api-test' }));
  await eventually(() => Promise.resolve(received.some((m) => m.type === 'subscribed')), Boolean, 5000);

  const r = await app.inject({
    method: 'POST',
    url: '/tracks',
    headers: { 'x-api-key': 'sesame' },
    payload: [
      { track_id: 'api-1', track_genre: 'api-test', ...features },
      { track_id: 'api-2', ...features, valence: 7 },
    ],
  });
  assert.equal(r.statusCode, 207);
  const body = r.json<{
    accepted: number;
    rejected: number;
    results: { accepted: boolean; errors?: { field: string }[] }[];
  }>();
  assert.deepEqual([body.accepted, body.rejected], [1, 1]);
  assert.equal(body.results[1]?.errors?.[0]?.field, 'valence');

  // Other genres are filtered out of this client's feed.
  const sink = await createPublisher(p.cfg);
  await replayCsv(sink, { path: 'data/spotify_tracks_sample.csv', limit: 50, quiet: true });
  await sink.close();
  const got = await eventually(
    () => Promise.resolve(received.filter((m) => m.type === 'prediction')),
    (a) => a.length >= 1,
    30_000,
  );
  await new Promise((res) => setTimeout(res, 1500));
  const predictions = received.filter((m) => m.type === 'prediction');
  assert.deepEqual(
    predictions.map((m) => m.track_id),
    ['api-1'],
    'only the subscribed genre, once',
  );
  assert.deepEqual(Object.keys(got[0]!.scores!), [...scoreNamesOf()]);
  ws.close();

  const stored = await eventually(
    async () =>
      (await app.inject({ url: '/tracks/api-1/predictions' })).json<{ predictions: unknown[] }>().predictions,
    (a) => a.length >= scoreNamesOf().length,
  );
  assert.equal(stored.length, scoreNamesOf().length, 'one stored row per score');
  // Why it scored as it did: its stored event explained by the version that scored it.
  const why = await app.inject({ url: '/tracks/api-1/explanation' });
  assert.equal(why.statusCode, 200, why.body);
  const w = why.json<ExplainResponse & { event_id: string; same_models: boolean; scored_by: string }>();
  assert.equal(w.same_models, true);
  assert.equal(w.scored_by, s.models.versions.rf);
  assert.equal(w.inputs.energy, features.energy, 'inputs as given, not float32 noise');
  const rf = w.explanations.rf;
  const storedRf = (stored as { model: string; score: number }[]).find((x) => x.model === 'rf')!.score;
  assert.ok(Math.abs(rf.output - storedRf) < 0.006, `explains the stored score ${storedRf}: ${rf.output}`);
  const none = await app.inject({ url: '/tracks/never-seen/explanation' });
  assert.deepEqual([none.statusCode, none.json<{ code: string }>().code], [404, 'unknown_track']);
});

test('a body nested 5,000 levels deep is 400 too_deep, not a stack overflow', async () => {
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  const r = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: deep,
    headers: { 'content-type': 'application/json' },
  });
  assert.deepEqual([r.statusCode, r.json<{ code: string }>().code], [400, 'too_deep']);
  const surrogate = await app.inject({
    method: 'POST',
    url: '/predict',
    payload: { ...features, track_genre: 'x\ud800' },
  });
  assert.equal(surrogate.statusCode, 400);
  assert.deepEqual(surrogate.json<{ errors: unknown[] }>().errors, [
    { field: 'track_genre', code: 'invalid_text', message: surrogate.json<{ message: string }>().message },
  ]);
});

/** A second app on the same models, publisher and hub, with other settings; `close` ends both. */
async function appWith(cfg: typeof p.cfg, timeoutMs?: number) {
  const clickhouse = createClickhouse(cfg, timeoutMs ? { timeoutMs } : {});
  const app = await buildApp({
    cfg: { ...cfg, logLevel: 'silent' },
    models: s.models,
    publisher: s.publisher,
    clickhouse,
    hub: s.hub,
    feedReady: () => true,
  });
  return { app, close: () => app.close().then(() => clickhouse.close()) };
}

test('storage failures answer 503 with a named code: schema_missing (naming migrate), storage_unavailable', async () => {
  const answer = async (cfg: typeof p.cfg) => {
    const { app: other, close } = await appWith(cfg, 3_000);
    try {
      return await Promise.all([
        other.inject({ url: '/drift' }),
        other.inject({ url: '/tracks/x/predictions' }),
      ]);
    } finally {
      await close();
    }
  };
  for (const r of await answer({ ...p.cfg, clickhouseDatabase: 'never_migrated' })) {
    assert.equal(r.statusCode, 503);
    const body = r.json<{ code: string; message: string }>();
    assert.equal(body.code, 'schema_missing');
    assert.match(body.message, /never_migrated does not exist.*npx hitstream migrate/);
  }
  for (const r of await answer({ ...p.cfg, clickhouseUrl: 'http://127.0.0.1:9' })) {
    assert.equal(r.statusCode, 503);
    assert.equal(r.json<{ code: string }>().code, 'storage_unavailable');
  }
});

test('write protection: 429 with Retry-After past the rate limit, a capped feed with its reason, the key for reads', async () => {
  const { app: guarded, close } = await appWith({
    ...p.cfg,
    rateLimitPerSecond: 5,
    feedMaxClients: 1,
    apiKey: 'k',
    apiKeyForReads: true,
  });
  try {
    // /predict: the 5 within the second succeed, the 6th is refused and says when to retry.
    const answers = [];
    for (let i = 0; i < 6; i++)
      answers.push(await guarded.inject({ method: 'POST', url: '/predict', payload: features }));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [200, 200, 200, 200, 200, 429],
    );
    const over = answers[5]!;
    assert.equal(over.json<{ code: string }>().code, 'rate_limited');
    assert.ok(Number(over.headers['retry-after']) >= 1, `Retry-After: ${over.headers['retry-after']}`);

    // Reads need the key; the right one passes, a wrong one of another length too is refused.
    assert.equal((await guarded.inject({ url: '/tracks/x/predictions' })).statusCode, 401);
    assert.equal(
      (await guarded.inject({ url: '/tracks/x/predictions', headers: { 'x-api-key': 'kk' } })).statusCode,
      401,
    );
    assert.equal(
      (await guarded.inject({ url: '/tracks/x/predictions', headers: { 'x-api-key': 'k' } })).statusCode,
      200,
    );

    // The feed: without the key refused; with it, one client; the second is closed with the reason.
    await guarded.listen({ host: '127.0.0.1', port: 0 });
    const url = `ws://127.0.0.1:${(guarded.server.address() as { port: number }).port}/feed`;
    const refused = await new Promise<string>((r) => {
      const ws = new WebSocket(url);
      ws.once('unexpected-response', (_req, res) => r(String(res.statusCode)));
      ws.once('open', () => r('open'));
    });
    assert.equal(refused, '401');
    const first = new WebSocket(`${url}?api_key=k`);
    await new Promise((r) => first.once('open', r));
    await eventually(
      () => Promise.resolve(s.hub.size),
      (n) => n >= 1,
      5_000,
    );
    const second = new WebSocket(`${url}?api_key=k`);
    const closed = await new Promise<{ code: number; reason: string }>((r) =>
      second.once('close', (code, reason) => r({ code, reason: reason.toString() })),
    );
    assert.equal(closed.code, 1013);
    assert.match(closed.reason, /too many feed clients \(HITSTREAM_FEED_MAX_CLIENTS=1\)/);
    first.close();
  } finally {
    await close();
  }
});

test('GET /models, /health, /metrics and /docs answer', async () => {
  const m = (await app.inject({ url: '/models' })).json<{
    models: { name: string; metrics: { grouped: { rmse: number } } }[];
  }>();
  assert.deepEqual(
    m.models.map((x) => x.name),
    ['rf', 'xgb', 'mlp', 'tabnet'],
  );
  assert.ok(m.models.every((x) => x.metrics.grouped.rmse > 0));
  const h = await app.inject({ url: '/health' });
  assert.equal(h.statusCode, 200);
  assert.match((await app.inject({ url: '/metrics' })).body, /hitstream_api_requests_total/);
  assert.equal((await app.inject({ url: '/docs/json' })).statusCode, 200);
  assert.equal((await app.inject({ url: '/live.html' })).statusCode, 200);
});
