import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrateRule, firings, windowsToFire } from '../../alerts/calibrate.ts';
import { addCounts, type MinuteCounts, slidingWindows, type WindowValue } from '../../alerts/history.ts';

const series = (values: number[], n = 1000, key = 'energy'): WindowValue[] =>
  values.map((value, i) => ({ key, end: 60 * i, value, n }));

test("a rule's `for` is how many one-minute windows in a row must exceed the threshold", () => {
  assert.equal(windowsToFire('0s'), 1);
  assert.equal(windowsToFire('1m'), 2);
  assert.equal(windowsToFire('5m'), 6);
});

test('firings counts alarms (runs long enough) and the minutes they fire; few events and gaps do not count', () => {
  const w = series([0.1, 0.3, 0.3, 0.3, 0.1, 0.3, 0.1, 0.3, 0.3]);
  assert.deepEqual(firings(w, 0.2, 500, 2), { alarms: 2, minutes: 3 });
  assert.deepEqual(firings(w, 0.2, 500, 1), { alarms: 3, minutes: 6 });
  assert.deepEqual(firings(series([0.3, 0.3, 0.3], 100), 0.2, 500, 1), { alarms: 0, minutes: 0 });
  const gap = [...series([0.3]), { key: 'energy', end: 600, value: 0.3, n: 1000 }];
  assert.deepEqual(firings(gap, 0.2, 500, 2), { alarms: 0, minutes: 0 });
});

test('calibration picks the lowest threshold within the budget, then the headroom, per key', () => {
  // Healthy noise around 0.02, and three incidents peaking at 0.5, 0.4 and 0.3.
  const healthy = Array.from({ length: 200 }, (_, i) => 0.02 + 0.01 * Math.sin(i));
  const values = [...healthy];
  for (const [at, peak] of [
    [40, 0.5],
    [100, 0.4],
    [160, 0.3],
  ] as const)
    for (let k = 0; k < 4; k++) values[at + k] = peak;
  const old = { threshold: 0.2, min_events: 500, calibrated: null };
  const calibrate = (allowed: number, extra: WindowValue[] = []) =>
    calibrateRule({
      rule: 'HitstreamFeatureDrift',
      windows: [...series(values), ...extra],
      old,
      forDuration: '1m',
      allowedAlarms: allowed,
      headroom: 0,
      label: 'feature',
      at: new Date(0),
      history: '3h',
      falseAlarmsPerWeek: 1,
    });
  const none = calibrate(0);
  assert.equal(none.before.alarms, 3);
  assert.equal(none.after.alarms, 0);
  assert.equal(none.keys[0]!.threshold, 0.5);
  const one = calibrate(1);
  assert.equal(one.after.alarms, 1);
  assert.equal(one.keys[0]!.threshold, 0.4);
  // A second feature with lower values gets a threshold of its own.
  const two = calibrate(2, series(healthy, 1000, 'tempo'));
  assert.deepEqual(Object.keys(two.next.per!.values).sort(), ['energy', 'tempo']);
  assert.ok(two.next.per!.values.tempo! < 0.05, JSON.stringify(two.next.per));
  assert.ok(two.after.alarms <= 2);
});

test('a key with no window of enough events keeps its threshold', () => {
  const r = calibrateRule({
    rule: 'HitstreamModelsDisagree',
    windows: series([30, 30, 30], 10, ''),
    old: { threshold: 20, min_events: 500, calibrated: null },
    forDuration: '5m',
    allowedAlarms: 0,
    headroom: 0.25,
    at: new Date(0),
    history: '1h',
    falseAlarmsPerWeek: 1,
  });
  assert.equal(r.next.threshold, 20);
});

test('sliding windows add the minutes of each whole window, and drop the ones that left it', () => {
  const counts: MinuteCounts = new Map();
  for (let m = 0; m < 5; m++) addCounts(counts, 'k', m * 60, [1, m]);
  const w = slidingWindows(counts, 3, (_k, [n = 0, s = 0]) => ({ value: s, n }));
  assert.deepEqual(
    w.map((x) => [x.end, x.n, x.value]),
    [
      [120, 3, 3],
      [180, 3, 6],
      [240, 3, 9],
    ],
  );
});
