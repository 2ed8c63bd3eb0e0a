import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prefixer } from '../../cli/up-output.ts';
import { alertsPart, changesOnly, p99Between, parseWorkerMetrics, statusLine } from '../../cli/up-status.ts';

test('a child’s JSON log line is pretty-printed on one line behind its service name; other lines are prefixed as they are', () => {
  const format = prefixer('worker-1', false);
  const line = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 1),
    name: 'worker',
    msg: 'models loaded',
    live: 'v1',
  });
  assert.match(format(line), /^worker-1 \| \[\d\d:\d\d:\d\d\] INFO: models loaded \{"live":"v1"\}\n$/);
  assert.equal(format('(node:1) a warning'), 'worker-1 | (node:1) a warning\n');
  assert.equal(format('{not json'), 'worker-1 | {not json\n');
});

const metrics = (events: number, dead: number, lag: number, buckets: [string, number][]) =>
  [
    '# HELP hitstream_events_in_total Messages consumed',
    `hitstream_events_in_total ${events}`,
    `hitstream_dead_letters_total{reason="malformed_json"} ${dead}`,
    `hitstream_consumer_lag{partition="0"} ${lag}`,
    `hitstream_consumer_lag{partition="1"} 1`,
    ...buckets.map(([le, n]) => `hitstream_event_to_prediction_ms_bucket{le="${le}"} ${n}`),
  ].join('\n');

test('the status line: events/s, lag, p99 over the interval (its bucket), dead letters, summed over workers', () => {
  const before = [
    parseWorkerMetrics(
      metrics(100, 1, 0, [
        ['10', 50],
        ['100', 100],
        ['+Inf', 100],
      ]),
    ),
  ];
  const after = [
    parseWorkerMetrics(
      metrics(600, 2, 4, [
        ['10', 500],
        ['100', 598],
        ['+Inf', 600],
      ]),
    ),
  ];
  assert.equal(after[0]!.lag, 5);
  // 500 new events: 450 ≤ 10 ms, 48 more ≤ 100 ms, 2 above: the 99th percentile is in (10, 100].
  assert.equal(p99Between(before[0]!.latency, after[0]!.latency), 100);
  assert.equal(statusLine(before, after, 5), '100 events/s · lag 5 · p99 ≤ 100 ms · 2 dead letters');
  assert.equal(statusLine(after, after, 5), '0 events/s · lag 5 · p99 – · 2 dead letters');
});

test('the status line is written when it changes, and once a minute when it does not', () => {
  let now = 0;
  const written: string[] = [];
  const say = changesOnly(
    (l) => written.push(l),
    60_000,
    () => now,
  );
  say('0 events/s');
  now = 5_000;
  say('0 events/s');
  now = 10_000;
  say('12 events/s');
  now = 15_000;
  say('12 events/s');
  now = 75_000;
  say('12 events/s');
  assert.deepEqual(written, ['0 events/s', '12 events/s', '12 events/s']);
});

test('the status line names the firing alerts', () => {
  assert.equal(alertsPart([]), '');
  assert.equal(alertsPart(['HitstreamFeatureDrift']), ' · 1 alert firing: HitstreamFeatureDrift');
  assert.equal(alertsPart(['A', 'A', 'B', 'C', 'D']), ' · 5 alerts firing: A, B, C, …');
});
