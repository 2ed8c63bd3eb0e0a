/**
 * The main job end to end on the real broker and server: replay → worker (all four models) →
 * ClickHouse and the predictions topic; bad events → dead letters with the right reason.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { loadModels, type LoadedModels } from '../../models/model-set.ts';
import { createPublisher } from '../../producers/publisher.ts';
import { replayCsv } from '../../producers/replay.ts';
import { MAX_EVENT_BYTES } from '../../scorers/decode.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import {
  eventually,
  eventuallyStored,
  isolatedPipeline,
  testKafka,
  SCORES_PER_EVENT,
} from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let models: LoadedModels;
let worker: Worker;
const metrics = createWorkerMetrics();

before(async () => {
  p = await isolatedPipeline();
  models = await loadModels(p.cfg.modelsDir || undefined);
  worker = createWorker(p.cfg, { models, metrics, log: createLogger('test-worker', 'warn') });
  await worker.start();
});
after(async () => {
  await worker.stop();
  await p.cleanup();
});

const N = 300;

test(`replaying ${N} sample rows gives exactly ${SCORES_PER_EVENT * N} distinct prediction rows and ${N} track rows`, async () => {
  const publisher = await createPublisher(p.cfg);
  const summary = await replayCsv(publisher, {
    path: 'data/spotify_tracks_sample.csv',
    limit: N,
    quiet: true,
  });
  await publisher.close();
  assert.equal(summary.sent, N);
  const stored = await eventuallyStored((q) => p.count(q), N);
  assert.deepEqual(stored, { predictions: SCORES_PER_EVENT * N, tracks: N });
  assert.equal(await p.count('SELECT uniqExact(event_id, model) FROM predictions'), SCORES_PER_EVENT * N);
  assert.equal(await p.count('SELECT countIf(score < 0 OR score > 100) FROM predictions'), 0);
  assert.equal(await p.count('SELECT uniqExact(model) FROM predictions'), SCORES_PER_EVENT);
  assert.equal(
    await p.count('SELECT countIf(popularity IS NULL) FROM predictions'),
    0,
    'the dataset label travels with every event',
  );
});

test('bad events go to dead letters with the right reason; valid events around them are scored; the worker keeps running', async () => {
  const good = {
    track_id: 'dl-good',
    duration_ms: 200000,
    explicit: false,
    danceability: 0.5,
    energy: 0.5,
    key: 1,
    loudness: -5,
    mode: 1,
    speechiness: 0.1,
    acousticness: 0.1,
    instrumentalness: 0,
    liveness: 0.1,
    valence: 0.5,
    tempo: 120,
    time_signature: 4,
    event_time: new Date().toISOString(),
    source: 'test',
  };
  const cases: [string, Buffer, string, string][] = [
    ['malformed', Buffer.from('{"track_id": "dl-1", '), 'malformed_json', ''],
    [
      'missing',
      Buffer.from(JSON.stringify({ ...good, track_id: 'dl-2', valence: undefined })),
      'missing_field',
      'valence',
    ],
    [
      'wrong type',
      Buffer.from(JSON.stringify({ ...good, track_id: 'dl-3', tempo: 'fast' })),
      'wrong_type',
      'tempo',
    ],
    [
      'out of range',
      Buffer.from(JSON.stringify({ ...good, track_id: 'dl-4', energy: 1.7 })),
      'out_of_range',
      'energy',
    ],
    ['oversized', Buffer.alloc(MAX_EVENT_BYTES + 10, 0x7b), 'oversized_message', ''],
    ['empty', Buffer.alloc(0), 'empty_message', ''],
  ];
  const producer = testKafka(p.cfg).producer();
  await producer.connect();
  const messages = cases.flatMap(([name, value], i) => [
    { key: `bad-${name}`, value },
    { key: `good-${i}`, value: JSON.stringify({ ...good, track_id: `dl-good-${i}` }) },
  ]);
  await producer.send({ topic: p.cfg.topicTracks, messages });
  await producer.disconnect();
  const dead = await eventually(
    () => p.count('SELECT count() FROM dead_letters FINAL'),
    (n) => n >= cases.length,
  );
  assert.equal(dead, cases.length);
  const rs = await p.client.query({
    query:
      'SELECT message_key, error_code, field, payload_bytes FROM dead_letters FINAL ORDER BY message_key',
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{
    message_key: string;
    error_code: string;
    field: string;
    payload_bytes: number;
  }>();
  for (const [name, value, code, field] of cases) {
    const r = rows.find((x) => x.message_key === `bad-${name}`);
    assert.ok(r, `dead letter for ${name}`);
    assert.equal(r.error_code, code, name);
    assert.equal(r.field, field, name);
    assert.equal(Number(r.payload_bytes), value.length, `${name}: the whole payload is kept`);
  }
  // A batch of nothing but bad events must not stop the worker either.
  const only = testKafka(p.cfg).producer();
  await only.connect();
  await only.send({ topic: p.cfg.topicTracks, messages: [{ key: 'bad-alone', value: '{oops' }] });
  await only.disconnect();
  assert.equal(
    await eventually(
      () => p.count("SELECT count() FROM dead_letters FINAL WHERE message_key = 'bad-alone'"),
      (n) => n === 1,
    ),
    1,
  );
  const scored = await eventually(
    () => p.count("SELECT uniqExact(track_id) FROM track_events FINAL WHERE track_id LIKE 'dl-good-%'"),
    (n) => n >= cases.length,
  );
  assert.equal(scored, cases.length, 'every valid event between the bad ones was scored');
  assert.ok(worker.ready());
});
