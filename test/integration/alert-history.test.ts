/**
 * The drift rules on history, through a real worker and ClickHouse: an hour of healthy traffic at
 * 100 events a minute (event times in the past, the sample's rows twice) fires no drift rule with
 * the shipped thresholds, where the old per-minute rule (PSI ≥ 0.2) fired again and again; then
 * three incidents are added to that hour, and calibration picks a threshold that meets the budget.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { calibrateRule, firings, windowsToFire } from '../../alerts/calibrate.ts';
import { ruleHistory, type WindowValue } from '../../alerts/history.ts';
import { alertRules, readThresholds } from '../../alerts/rules.ts';
import { loadKaggleCsv } from '../../lib/kaggle-csv.ts';
import { writeDriftReferences } from '../../registry/references.ts';
import { versionOf } from '../../registry/serving.ts';
import { trackEventFromCsv } from '../../producers/track-event.ts';
import { type ScoringApp, startScoringApp } from '../helpers/scoring-app.ts';
import { eventually, isolatedPipeline } from '../helpers/services.ts';

let p: Awaited<ReturnType<typeof isolatedPipeline>>;
let s: ScoringApp;
const HOUR = 60;
const PER_MINUTE = 100;
const start = Math.floor(Date.now() / 60_000) * 60_000 - (HOUR + 5) * 60_000;

before(async () => {
  p = await isolatedPipeline();
  s = await startScoringApp(p);
  await writeDriftReferences(p.client, versionOf(s.models), s.models);
});
after(async () => {
  await s.stop();
  await p.cleanup();
});

/** `count` events from the sample at `perMinute` from minute `fromMinute` of the history. */
async function publishAt(fromMinute: number, count: number, perMinute: number, energyShift = 0) {
  const { tracks } = await loadKaggleCsv('data/spotify_tracks_sample.csv');
  const events = Array.from({ length: count }, (_, i) => {
    const at = new Date(start + fromMinute * 60_000 + (i * 60_000) / perMinute).toISOString();
    const e = trackEventFromCsv(tracks[(i + fromMinute * 7) % tracks.length]!, at);
    return { ...e, energy: Math.min(1, e.energy + energyShift) };
  });
  for (let i = 0; i < events.length; i += 1000) {
    const r = await s.publisher.publish(events.slice(i, i + 1000));
    assert.ok(r.every((x) => x.ok));
  }
  return events.length;
}

const stored = (n: number) =>
  eventually(
    () => p.count('SELECT count() FROM track_events FINAL'),
    (c) => c >= n,
    120_000,
  );

const byKey = (windows: WindowValue[]) => {
  const out = new Map<string, WindowValue[]>();
  for (const w of windows) out.set(w.key, [...(out.get(w.key) ?? []), w]);
  return out;
};

test('an hour of healthy traffic at 100 events a minute fires no drift rule; the old per-minute rule did', async () => {
  const sent = await publishAt(0, HOUR * PER_MINUTE, PER_MINUTE);
  await stored(sent);
  const rule = alertRules().find((r) => r.name === 'HitstreamFeatureDrift')!;
  const t = readThresholds().HitstreamFeatureDrift!;
  const history = await ruleHistory(p.client, 3 * 3600, 900);
  const windows = history.windows.HitstreamFeatureDrift;
  assert.ok(windows.length >= 40 * 14, `${windows.length} windows`);
  let alarms = 0;
  let highest = 0;
  for (const [feature, list] of byKey(windows)) {
    const threshold = t.per?.values[feature] ?? t.threshold;
    alarms += firings(list, threshold, t.min_events, windowsToFire(rule.for)).alarms;
    highest = Math.max(highest, ...list.map((w) => w.value));
  }
  // The old rule: PSI per minute (100 events) ≥ 0.2 anywhere in the last 15 minutes.
  const perMinute = (await ruleHistory(p.client, 3 * 3600, 60)).windows.HitstreamFeatureDrift;
  const noisyMinutes = new Set(perMinute.filter((w) => w.value >= 0.2).map((w) => w.end)).size;
  process.stderr.write(
    `alert history test: ${sent} events over ${HOUR} min; 15-min windows: highest feature PSI ${highest.toFixed(4)}, ${alarms} alarms at the shipped thresholds; per-minute PSI ≥ 0.2 in ${noisyMinutes} of ${HOUR} minutes\n`,
  );
  // The calibration goal, printed: thresholds from the first half of the windows, with the default
  // headroom and no alarm allowed, against the second half, which the calibration did not see.
  const ends = [...new Set(windows.map((w) => w.end))].sort((a, b) => a - b);
  const cut = ends[Math.floor(ends.length / 2)]!;
  const learned = calibrateRule({
    rule: rule.name,
    windows: windows.filter((w) => w.end < cut),
    old: t,
    forDuration: rule.for,
    allowedAlarms: 0,
    headroom: 0.25,
    label: 'feature',
    at: new Date(),
    history: 'first half',
    falseAlarmsPerWeek: 0,
  });
  let unseen = 0;
  for (const [feature, list] of byKey(windows.filter((w) => w.end >= cut)))
    unseen += firings(list, learned.next.per!.values[feature]!, t.min_events, windowsToFire(rule.for)).alarms;
  process.stderr.write(
    `alert history test: thresholds calibrated on the first ${ends.filter((e) => e < cut).length} windows (budget 0, headroom 25%): ${unseen} false alarms in the ${ends.filter((e) => e >= cut).length} windows it did not see\n`,
  );
  assert.equal(alarms, 0);
  assert.ok(
    noisyMinutes > 0,
    'per-minute PSI of 100 events crosses 0.2 somewhere in an hour (sampling noise)',
  );
});

test('calibration on that hour plus three incidents picks a threshold that meets the budget', async () => {
  // energy shifted by 0.25 for 5 minutes at 50 extra events a minute, three times.
  const before = await p.count('SELECT count() FROM track_events FINAL');
  let extra = 0;
  for (const minute of [10, 28, 46]) extra += await publishAt(minute, 5 * 50, 50, 0.25);
  await stored(before + extra);
  const rule = alertRules().find((r) => r.name === 'HitstreamFeatureDrift')!;
  const old = readThresholds().HitstreamFeatureDrift!;
  const history = await ruleHistory(p.client, 3 * 3600, 900);
  const energy = history.windows.HitstreamFeatureDrift.filter((w) => w.key === 'energy');
  const needed = windowsToFire(rule.for);
  const lowIncidents = firings(energy, 0.02, old.min_events, needed).alarms;
  assert.ok(lowIncidents >= 3, `the three incidents cross PSI 0.02 (${lowIncidents} alarms there)`);
  for (const allowed of [0, 1, 2]) {
    const c = calibrateRule({
      rule: rule.name,
      windows: history.windows.HitstreamFeatureDrift,
      old,
      forDuration: rule.for,
      allowedAlarms: allowed * 14,
      headroom: 0,
      label: 'feature',
      at: new Date(),
      history: '3h',
      falseAlarmsPerWeek: 1,
    });
    const energyThreshold = c.next.per!.values.energy!;
    const fired = firings(energy, energyThreshold, old.min_events, needed).alarms;
    process.stderr.write(
      `alert history test: budget ${allowed} alarm(s) per feature → energy threshold ${energyThreshold} (fires ${fired}×), others ≤ ${Math.max(
        ...Object.entries(c.next.per!.values)
          .filter(([k]) => k !== 'energy')
          .map(([, v]) => v),
      )}\n`,
    );
    assert.ok(fired <= allowed, `budget ${allowed}, fired ${fired}`);
    assert.ok(fired >= Math.min(allowed, 1), 'the threshold is not raised further than the budget needs');
    assert.ok(c.after.alarms <= allowed * 14, JSON.stringify(c.keys.filter((k) => k.after.alarms > allowed)));
  }
});

test('calibrate says how much history there is and how much it needs', () => {
  const r = spawnSync(
    process.execPath,
    ['bin/hitstream.js', 'alerts', 'calibrate', '--history', '3h', '--min-windows', '500', '--dry-run'],
    { env: p.env, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /too little history to calibrate: \d+ minutes of events/);
  assert.match(r.stderr, /HitstreamFeatureDrift: \d+ windows with ≥ 500 events in the history, 500 needed/);
  const ok = spawnSync(
    process.execPath,
    ['bin/hitstream.js', 'alerts', 'calibrate', '--history', '3h', '--min-windows', '30', '--dry-run'],
    { env: p.env, encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(
    ok.stdout,
    /HitstreamFeatureDrift: \d+ windows judged; fired \d+× \(\d+ min\) with the old thresholds/,
  );
  assert.match(ok.stdout, /energy .* → /);
  assert.match(ok.stderr, /dry run: nothing written/);
});
