/** BatchWriter's ordering and grouping, with a recording stand-in for ClickHouse (pure logic). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickHouseClient } from '@clickhouse/client';
import { Readable } from 'node:stream';
import { encodeRows } from '../../scorers/rows.ts';
import { BatchWriter, type PendingBatch } from '../../scorers/writer.ts';

function fakeClickhouse(opts: { delayMs?: number; fail?: boolean } = {}) {
  const inserts: { table: string; rows: number }[] = [];
  const client = {
    exec: async ({ query, values }: { query: string; values: Readable }) => {
      const table = /INSERT INTO (\w+)/.exec(query)![1]!;
      let text = '';
      for await (const chunk of values) text += String(chunk);
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 20));
      if (opts.fail) throw new Error('unrecoverable');
      inserts.push({ table, rows: text.split('\n').filter(Boolean).length });
      return { stream: Readable.from([]) };
    },
  } as unknown as ClickHouseClient;
  return { client, inserts };
}

const batch = (partition: number, last: number, events: number): PendingBatch => ({
  topic: 't',
  partition,
  last: String(last),
  events,
  rows: {
    predictions: encodeRows(Array.from({ length: events * 4 }, (_, i) => ({ i }))),
    dead_letters: encodeRows([]),
  },
});

test('batches queued during a write go out together, then the highest offset per partition is committed', async () => {
  const ch = fakeClickhouse();
  const commits: { partition: number; offset: string }[][] = [];
  const writer = new BatchWriter({
    clickhouse: ch.client,
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
    clickhouse: ch.client,
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
    clickhouse: fakeClickhouse({ delayMs: 50 }).client,
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
    clickhouse,
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

test('the interval is skipped once the waiting events reach half of maxPendingEvents', async () => {
  const ch = fakeClickhouse({ delayMs: 5 });
  const writer = spacedWriter(ch.client, 40);
  await writer.write(batch(0, 9, 10));
  const t0 = performance.now();
  await Promise.all([writer.write(batch(0, 19, 10)), writer.write(batch(0, 29, 10))]);
  assert.ok(performance.now() - t0 < 5_000, 'written without waiting out the interval');
  assert.equal(ch.inserts.length, 2);
});
