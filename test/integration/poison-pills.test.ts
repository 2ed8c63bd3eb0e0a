/**
 * Messages crafted to stop a worker, produced straight to the tracks topic between valid events,
 * on the real broker and server: each becomes a dead letter with its code, the valid events
 * around it are stored, and the worker keeps consuming. Then a row that passes every check but
 * ClickHouse refuses (written through the real writer): split out, dead-lettered, the rest stored.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createLogger } from '../../lib/logger.ts';
import { loadModels, type LoadedModels } from '../../models/model-set.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { encodeRows } from '../../warehouse/rows.ts';
import { createWorker, type Worker } from '../../scorers/worker.ts';
import { BatchWriter, type RejectedRow } from '../../scorers/writer.ts';
import { eventually, isolatedPipeline, testKafka, SCORES_PER_EVENT } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let models: LoadedModels;
let worker: Worker;

const good = (
  JSON.parse(readFileSync('schemas/examples/good/track-features-full.json', 'utf8')) as {
    value: Record<string, unknown>;
  }
).value;
const event = (track_id: string) =>
  JSON.stringify({ ...good, track_id, event_time: new Date().toISOString() });

before(async () => {
  p = await isolatedPipeline(1);
  models = await loadModels(p.cfg.modelsDir || undefined);
  // Scoring that throws for one track id: a failure no decoder or writer handles.
  const exploding: LoadedModels = {
    ...models,
    predictBatch: (rows) =>
      (rows as unknown as { track_id?: string }[]).some((r) => r.track_id === 'explode')
        ? Promise.reject(new Error('scoring blew up'))
        : models.predictBatch(rows),
  };
  worker = createWorker(p.cfg, {
    models: exploding,
    metrics: createWorkerMetrics(),
    log: createLogger('test-worker', 'silent'),
  });
  await worker.start();
});
after(async () => {
  await worker.stop(5_000);
  await p.cleanup();
});

async function produce(messages: { key: string; value: Buffer | string }[]) {
  const producer = testKafka(p.cfg).producer();
  await producer.connect();
  // One message per send: each is its own record batch, as from unrelated producers.
  for (const m of messages) await producer.send({ topic: p.cfg.topicTracks, messages: [m] });
  await producer.disconnect();
}

test('deep JSON, a lone surrogate and bytes that are not UTF-8 become dead letters; the events between them are stored', async () => {
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  assert.ok(deep.length > 30_000 && deep.length < 64 * 1024);
  const cases = [
    { key: 'deep', value: deep, code: 'too_deep', field: '' },
    { key: 'surrogate', value: event('bad\ud800id'), code: 'invalid_text', field: 'track_id' },
    {
      key: 'latin1',
      value: Buffer.concat([Buffer.from('{"track_id":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]),
      code: 'invalid_text',
      field: '',
    },
  ];
  assert.ok(event('bad\ud800id').includes('\\ud800'), 'JSON.stringify escapes the lone surrogate');
  await produce([
    { key: 'good-0', value: event('pp-good-0') },
    ...cases.flatMap((c, i) => [
      { key: c.key, value: c.value },
      { key: `good-${i + 1}`, value: event(`pp-good-${i + 1}`) },
    ]),
  ]);
  const stored = await eventually(
    () => p.count("SELECT count() FROM track_events FINAL WHERE track_id LIKE 'pp-good-%'"),
    (n) => n >= cases.length + 1,
  );
  assert.equal(stored, cases.length + 1, 'every valid event around the bad ones is stored');
  assert.equal(
    await p.count("SELECT count() FROM predictions FINAL WHERE track_id LIKE 'pp-good-%'"),
    SCORES_PER_EVENT * stored,
  );
  const rs = await p.client.query({
    query: 'SELECT message_key, error_code, field FROM dead_letters FINAL ORDER BY message_key',
    format: 'JSONEachRow',
  });
  const dead = await rs.json<{ message_key: string; error_code: string; field: string }>();
  for (const c of cases)
    assert.deepEqual(
      dead.find((d) => d.message_key === c.key),
      { message_key: c.key, error_code: c.code, field: c.field },
      c.key,
    );
  assert.ok(worker.ready(), 'the worker is still consuming');
  // …and still consuming: one more valid event goes through.
  await produce([{ key: 'after', value: event('pp-after') }]);
  assert.equal(
    await eventually(
      () => p.count("SELECT count() FROM track_events FINAL WHERE track_id = 'pp-after'"),
      (n) => n === 1,
    ),
    1,
  );
});

test('a row ClickHouse refuses is split out of the insert and dead-lettered; the rows around it are stored', async () => {
  // A lone surrogate written as JSON: ClickHouse's parser refuses it (code 25 on 18.16).
  const rows = ['w-1', 'w-\ud800', 'w-3', 'w-4'].map((id) => ({
    event_id: id,
    track_id: id,
    model: 'rf',
    score: 1,
  }));
  const origins = rows.map((_, i) => ({ topic: 'writer-test', partition: 0, offset: String(i) }));
  const rejected: RejectedRow[] = [];
  let committed = '';
  const writer = new BatchWriter({
    target: { client: p.client, url: p.cfg.clickhouseUrl, database: p.cfg.clickhouseDatabase },
    retry: { log: createLogger('test-writer', 'silent') },
    commit: (o) => Promise.resolve(void (committed = o.map((x) => x.offset).join())),
    rejectedRows: (r) => {
      rejected.push(...r);
      return Promise.resolve({ table: 'dead_letters', rows: encodeRows([], []) });
    },
  });
  await writer.write({
    topic: 'writer-test',
    partition: 0,
    first: '0',
    last: '3',
    events: 4,
    rows: { predictions: encodeRows(rows, origins) },
  });
  assert.deepEqual(
    rejected.map((r) => [r.table, r.origin.offset]),
    [['predictions', '1']],
  );
  assert.match(rejected[0]!.reason, /refused the data/);
  assert.equal(await p.count("SELECT count() FROM predictions FINAL WHERE event_id LIKE 'w-%'"), 3);
  assert.equal(committed, '4', 'the batch is committed past the refused row');
});

test('a batch that cannot be scored ends the worker: unready at once, the cause reported, nothing committed past it', async () => {
  await produce([{ key: 'explode', value: event('explode') }]);
  const err = await Promise.race([
    worker.fatal,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000)),
  ]);
  assert.ok(err, 'the failure is reported');
  assert.match(err.message, /scoring blew up/);
  assert.equal(worker.ready(), false, '/health turns unready');
  assert.equal(await p.count("SELECT count() FROM track_events FINAL WHERE track_id = 'explode'"), 0);
});
