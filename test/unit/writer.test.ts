/** BatchWriter's ordering and grouping, with a recording stand-in for ClickHouse (pure logic). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { encodeRows } from '../../warehouse/rows.ts';
import { BatchWriter, type PendingBatch } from '../../scorers/writer.ts';

/**
 * Records inserts. `fail`: every insert fails as an outage would. `refuse`: an insert holding a
 * row for which it is true fails as ClickHouse 18.16 refuses data (code 25), storing nothing.
 */
function fakeClickhouse(opts: { delayMs?: number; fail?: boolean; refuse?: (row: string) => boolean } = {}) {
  const inserts: { table: string; rows: number }[] = [];
  const stored: string[] = [];
  const client = {
    exec: async ({ query, values }: { query: string; values: Readable }) => {
      const table = /INSERT INTO (\w+)/.exec(query)![1]!;
      let text = '';
      for await (const chunk of values) text += String(chunk);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 20));
      if (opts.fail) throw new Error('unrecoverable');
      const rows = text.split('\n').filter(Boolean);
      if (opts.refuse && rows.some(opts.refuse))
        throw new Error(
          'Code: 25, e.displayText() = DB::Exception: Cannot parse escape sequence, e.what() = DB::Exception',
        );
      inserts.push({ table, rows: rows.length });
      stored.push(...rows.map((r) => `${table} ${r}`));
      return { stream: Readable.from([]) };
    },
  } as unknown as ClickHouseClient;
  return { client, inserts, stored };
}

const target = (client: ClickHouseClient) => ({ client, url: 'http://fake', database: 'db' });

const origin = (partition: number, offset: number) => ({ topic: 't', partition, offset: String(offset) });

const batch = (partition: number, last: number, events: number): PendingBatch => ({
  topic: 't',
  partition,
  first: String(last - events + 1),
  last: String(last),
  events,
  rows: {
    predictions: encodeRows(
      Array.from({ length: events * 4 }, (_, i) => ({ p: partition, i })),
      Array.from({ length: events * 4 }, (_, i) => origin(partition, last - events + 1 + (i >> 2))),
    ),
    dead_letters: encodeRows([], []),
  },
});

test('batches queued during a write go out together, then the highest offset per partition is committed', async () => {
  const ch = fakeClickhouse();
  const commits: { partition: number; offset: string }[][] = [];
  const writer = new BatchWriter({
    target: target(ch.client),
    retry: { log: { warn: () => undefined } as never },
    commit: (o) => {
      commits.push(o.map(({ partition, offset }) => ({ partition, offset })));
      return Promise.resolve();
    },
  });
  const first = writer.write(batch(0, 9, 10));
  // These three arrive while the first insert runs.
  const rest = [writer.write(batch(1, 4, 5)), writer.write(batch(0, 19, 10)), writer.write(batch(0, 29, 10))];
  assert.equal(writer.pendingEvents, 35);
  await Promise.all([first, ...rest]);
  assert.deepEqual(ch.inserts, [
    { table: 'predictions', rows: 40 },
    { table: 'predictions', rows: 100 },
  ]);
  assert.deepEqual(commits, [
    [{ partition: 0, offset: '10' }],
    [
      { partition: 1, offset: '5' },
      { partition: 0, offset: '30' },
    ],
  ]);
  assert.equal(writer.pendingEvents, 0);
});

test('a failed write rejects its batches and every later one, and commits nothing', async () => {
  const ch = fakeClickhouse({ fail: true });
  let commits = 0;
  const writer = new BatchWriter({
    target: target(ch.client),
    // The sink gives up at once when its signal is already aborted.
    retry: { log: { warn: () => undefined } as never, signal: AbortSignal.abort() },
    commit: () => Promise.resolve(void commits++),
  });
  await assert.rejects(writer.write(batch(0, 9, 10)), /unrecoverable/);
  await assert.rejects(writer.write(batch(0, 19, 10)), /unrecoverable/, 'never commits past a failed batch');
  assert.equal(commits, 0);
  assert.match(
    String(writer.failed),
    /unrecoverable/,
    'the worker can see the failure before its next write',
  );
});

test('full once the events not yet stored reach the limit', async () => {
  const writer = new BatchWriter({
    target: target(fakeClickhouse({ delayMs: 50 }).client),
    retry: { log: { warn: () => undefined } as never },
    commit: () => Promise.resolve(),
    maxPendingEvents: 25,
  });
  const a = writer.write(batch(0, 9, 10));
  assert.equal(writer.full, false);
  const b = writer.write(batch(0, 24, 15));
  assert.equal(writer.full, true);
  await Promise.all([a, b]);
  assert.equal(writer.full, false);
});

/** A writer whose writes are 10 s apart unless something cuts the wait short. */
const spacedWriter = (clickhouse: ClickHouseClient, maxPendingEvents?: number) =>
  new BatchWriter({
    target: target(clickhouse),
    retry: { log: { warn: () => undefined } as never },
    commit: () => Promise.resolve(),
    minIntervalMs: 10_000,
    ...(maxPendingEvents ? { maxPendingEvents } : {}),
  });

test('writes are spaced by minIntervalMs: batches arriving meanwhile go in one insert; flushed() does not wait', async () => {
  const ch = fakeClickhouse({ delayMs: 5 });
  const writer = spacedWriter(ch.client);
  await writer.write(batch(0, 9, 10));
  const t0 = performance.now();
  // Arriving after the first write: they wait for the interval, together.
  const later = [writer.write(batch(0, 19, 10)), writer.write(batch(1, 4, 5))];
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(ch.inserts.length, 1, 'the second write waits for the interval');
  await writer.flushed();
  await Promise.all(later);
  assert.ok(performance.now() - t0 < 5_000, 'flushed() cuts the wait short');
  assert.deepEqual(ch.inserts, [
    { table: 'predictions', rows: 40 },
    { table: 'predictions', rows: 60 },
  ]);
});

test('a pause in the stream writes what is in hand after quietMs, not the whole interval, at most once a second', async () => {
  const ch = fakeClickhouse({ delayMs: 5 });
  const writer = spacedWriter(ch.client);
  await writer.write(batch(0, 9, 10));
  const firstWriteAt = performance.now();
  // A steady stream (a batch every 50 ms) keeps waiting for the interval...
  const steady: Promise<void>[] = [];
  for (let i = 0; i < 30; i++) {
    steady.push(writer.write(batch(0, 19 + i, 1)));
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(ch.inserts.length, 1, 'batches keep coming: still waiting for the interval');
  // ...and once it pauses, the batches in hand go after ~200 ms (the last write was > 1 s ago).
  const pausedAt = performance.now();
  await Promise.all(steady);
  const waited = performance.now() - pausedAt;
  assert.ok(waited < 2_000, `written ${Math.round(waited)} ms after the pause, not 10 s`);
  assert.equal(ch.inserts.length, 2);
  // Right after a write, a quiet stream still waits for the one-second floor.
  const t0 = performance.now();
  await writer.write(batch(1, 0, 1));
  const since = performance.now() - t0;
  assert.ok(since >= 700 && since < 5_000, `${Math.round(since)} ms: the floor, not quietMs`);
  assert.ok(performance.now() - firstWriteAt < 9_000);
});

test('the interval is skipped once the waiting events reach half of maxPendingEvents', async () => {
  const ch = fakeClickhouse({ delayMs: 5 });
  const writer = spacedWriter(ch.client, 40);
  await writer.write(batch(0, 9, 10));
  const t0 = performance.now();
  await Promise.all([writer.write(batch(0, 19, 10)), writer.write(batch(0, 29, 10))]);
  assert.ok(performance.now() - t0 < 5_000, 'written without waiting out the interval');
  assert.equal(ch.inserts.length, 2);
});

test('rows ClickHouse refuses are split out and dead-lettered; the rest is stored and committed', async () => {
  // Two of 40 prediction rows are refused (events at offsets 3 and 7 of partition 0).
  const bad = new Set(['{"p":0,"i":13}', '{"p":0,"i":30}']);
  const ch = fakeClickhouse({ delayMs: 1, refuse: (r) => bad.has(r) });
  const commits: string[] = [];
  const rejected: { line: string; offset: string }[] = [];
  const writer = new BatchWriter({
    target: target(ch.client),
    retry: { log: { warn: () => undefined } as never },
    commit: (o) => Promise.resolve(void commits.push(...o.map((x) => `${x.partition}:${x.offset}`))),
    rejectedRows: (rows) => {
      rejected.push(...rows.map((r) => ({ line: r.line, offset: r.origin.offset })));
      return Promise.resolve({
        table: 'dead_letters',
        rows: encodeRows(
          rows.map((r) => ({ dead: r.line })),
          rows.map((r) => r.origin),
        ),
      });
    },
  });
  await writer.write(batch(0, 9, 10));
  assert.deepEqual(rejected.map((r) => [r.line, r.offset]).sort(), [
    ['{"p":0,"i":13}', '3'],
    ['{"p":0,"i":30}', '7'],
  ]);
  const predictions = ch.stored.filter((r) => r.startsWith('predictions '));
  assert.equal(predictions.length, 38, 'every other row is stored');
  assert.equal(ch.stored.filter((r) => r.startsWith('dead_letters ')).length, 2);
  assert.deepEqual(commits, ['0:10'], 'and the batch is committed');
  assert.equal(writer.failed, undefined);
});

test('a write whose every row is refused fails instead of dead-lettering it all (the schema does not match)', async () => {
  const ch = fakeClickhouse({ delayMs: 0, refuse: () => true });
  let commits = 0;
  const writer = new BatchWriter({
    target: target(ch.client),
    retry: { log: { warn: () => undefined } as never },
    commit: () => Promise.resolve(void commits++),
    rejectedRows: () => assert.fail('no dead letters for a mismatched schema'),
    maxRejectedRows: 5,
  });
  await assert.rejects(writer.write(batch(0, 9, 10)), /refused more than 5 rows.*migrate/);
  assert.equal(commits, 0);
});

test('unstored() names, per partition, the first offset not stored', async () => {
  const ch = fakeClickhouse({ fail: true, delayMs: 1 });
  const writer = new BatchWriter({
    target: target(ch.client),
    retry: { log: { warn: () => undefined } as never, signal: AbortSignal.abort() },
    commit: () => Promise.resolve(),
  });
  const writes = [
    writer.write(batch(0, 9, 10)),
    writer.write(batch(0, 19, 10)),
    writer.write(batch(2, 4, 5)),
  ];
  await Promise.allSettled(writes);
  assert.deepEqual(
    writer.unstored().sort((a, b) => a.partition - b.partition),
    [
      { topic: 't', partition: 0, fromOffset: '0', events: 20 },
      { topic: 't', partition: 2, fromOffset: '0', events: 5 },
    ],
  );
});

test('rows larger than a pooled buffer, written one write after another, are stored whole and in order', async () => {
  // Each write's rows fill several buffers; the next write reuses them (warehouse/byte-chunks.ts).
  const ch = fakeClickhouse({ delayMs: 1 });
  const writer = new BatchWriter({
    target: target(ch.client),
    retry: { log: { warn: () => undefined } as never },
    commit: () => Promise.resolve(),
  });
  const handed: string[] = [];
  for (let w = 0; w < 4; w++) {
    const rows = Array.from({ length: 3_000 }, (_, i) => ({
      w,
      i,
      pad: `é€😀${'x'.repeat(900 + ((w * 7 + i) % 50))}`,
    }));
    const encoded = encodeRows(
      rows,
      rows.map((_, i) => origin(0, w * 3_000 + i)),
    );
    handed.push(
      ...encoded.text
        .split('\n')
        .filter(Boolean)
        .map((r) => `predictions ${r}`),
    );
    await writer.write({
      topic: 't',
      partition: 0,
      first: String(w * 3_000),
      last: String(w * 3_000 + 2_999),
      events: 3_000,
      rows: { predictions: encoded },
    });
  }
  assert.equal(ch.inserts.length, 4);
  assert.deepEqual(ch.stored, handed);
});
