/**
 * The autopilot's decisions (autopilot/pilot.ts) with the outside world faked: what starts a run,
 * one run at a time, promote / retire / approve / roll back on the test's decision, a failed
 * training, and a restart mid-run. The real services are in test/integration/autopilot.test.ts.
 */
/* eslint-disable @typescript-eslint/require-await -- the fakes answer at once, as promises like the real actions */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAutopilotMetrics } from '../../autopilot/metrics.ts';
import { type Actions, createPilot } from '../../autopilot/pilot.ts';
import { DEFAULT_POLICY, type Policy } from '../../autopilot/policy.ts';
import { createLogger } from '../../lib/logger.ts';
import type { Judgement } from '../../registry/judge.ts';
import type { RoleState } from '../../registry/roles.ts';
import type { Decision } from '../../registry/sequential-test.ts';
import type { Step } from '../../registry/trail.ts';

const policy = (over: Partial<Policy> = {}): Policy => ({
  ...DEFAULT_POLICY,
  judging: { ...DEFAULT_POLICY.judging, check_every: '0s' },
  ...over,
});

/** A fake world: roles, a trail, and test decisions scripted per (incumbent, challenger). */
function world(
  decide: (incumbent: string, challenger: string) => Decision,
  opts: { trainFails?: boolean } = {},
) {
  let roles: RoleState = {
    seq: 1,
    live: 'v1',
    shadow: null,
    previous: [],
    retired: [],
    at: '',
    by: 'me',
    action: 'register',
  };
  const trail: Step[] = [];
  const notes: string[] = [];
  const calls: string[] = [];
  const set = (next: Partial<RoleState>, action: string) => {
    roles = { ...roles, ...next, seq: roles.seq + 1, action, by: 'autopilot' };
    calls.push(action);
  };
  const actions: Actions = {
    train: async () => {
      calls.push('train');
      if (opts.trainFails) throw new Error('too few labelled rows (12 of 500)');
      return { dir: '/tmp/x', trainRows: 900, testRows: 100, rmse: { rf: 15 }, seconds: 1 };
    },
    push: async () => 'v2',
    backfill: async () => ({ events: 40, seconds: 0.1 }),
    roles: async () => roles,
    shadow: async (v) => set({ shadow: v }, `shadow ${v}`),
    shadowOff: async () => set({ shadow: null }, 'shadow off'),
    promote: async (v) =>
      set({ live: v, shadow: null, previous: [...roles.previous, roles.live] }, `promote ${v}`),
    rollback: async () =>
      set({ live: roles.previous.at(-1)!, shadow: null, previous: roles.previous.slice(0, -1) }, 'rollback'),
    judge: async (incumbent, challenger) =>
      ({
        decision: decide(incumbent, challenger),
        events: 300,
        decidedAt: 250,
        mean: 1,
        lower: 0.5,
        upper: 2,
        incumbentMse: 200,
        challengerMse: 190,
        alpha: 0.05,
        margin: 0,
        incumbent: { version: incumbent, score: 'rf' },
        challenger: { version: challenger, score: 'rf' },
        since: '',
      }) satisfies Judgement,
    record: async (s) => void trail.push({ ...s, at: new Date().toISOString() }),
    lastRuns: async () => (trail.length ? [trail.filter((s) => s.run === trail.at(-1)!.run)] : []),
    notify: async (o) => void notes.push(o.outcome),
  };
  return {
    actions,
    trail,
    notes,
    calls,
    roles: () => roles,
    setRoles: (r: Partial<RoleState>) => (roles = { ...roles, ...r }),
  };
}

const FIRING = {
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HitstreamFeatureDrift', feature: 'energy', version: 'v1' },
      startsAt: new Date(Date.now() - 3600_000).toISOString(),
      fingerprint: 'a',
    },
  ],
};

const pilotIn = (w: ReturnType<typeof world>, p = policy()) =>
  createPilot({
    policy: p,
    actions: w.actions,
    log: createLogger('test', 'silent'),
    metrics: createAutopilotMetrics(),
  });

/** Ticks until the run is done (or `limit` ticks). */
async function runOut(pilot: ReturnType<typeof createPilot>, limit = 50) {
  for (let i = 0; i < limit; i++) {
    await pilot.tick();
    await new Promise((r) => setImmediate(r));
    if (i > 2 && !pilot.status().run) return;
  }
}

test('an alert firing long enough starts a run; a better candidate is promoted, kept after probation', async () => {
  const w = world((inc, ch) => (inc === 'v1' && ch === 'v2' ? 'better' : 'not better'));
  const pilot = pilotIn(w);
  assert.equal(pilot.onAlerts({ alerts: [{ labels: { alertname: 'Unrelated' } }] }), 0, 'not in the policy');
  await pilot.tick();
  assert.equal(pilot.status().run, undefined, 'nothing firing: no run');
  assert.equal(pilot.onAlerts(FIRING), 1);
  await runOut(pilot);
  assert.deepEqual(
    w.trail.map((s) => s.step),
    ['started', 'trained', 'pushed', 'backfilled', 'shadowed', 'promoted', 'probation', 'promoted'],
  );
  assert.match(
    w.trail[0]!.reason,
    /HitstreamFeatureDrift \(version=v1, feature=energy\) firing for 15m or more/,
  );
  assert.deepEqual(w.calls, ['train', 'shadow v2', 'promote v2', 'shadow v1', 'shadow off']);
  assert.equal(w.roles().live, 'v2');
  assert.deepEqual(w.notes, ['promoted']);
  assert.ok(w.trail.every((s) => s.by === 'autopilot'));
});

test('a second alert during a run starts no second run; the cooldown holds the next', async () => {
  const w = world(() => 'undecided');
  const pilot = pilotIn(w);
  pilot.onAlerts(FIRING);
  await pilot.tick();
  const first = pilot.status().run!.id;
  pilot.onAlerts({
    alerts: [{ ...FIRING.alerts[0]!, fingerprint: 'b', labels: { alertname: 'HitstreamErrorAboveTest' } }],
  });
  for (let i = 0; i < 5; i++) await pilot.tick();
  assert.equal(pilot.status().run!.id, first);
  assert.equal(new Set(w.trail.map((s) => s.run)).size, 1);
});

test('a candidate that is not better is retired with the figures; live is untouched', async () => {
  const w = world(() => 'not better');
  const pilot = pilotIn(w);
  pilot.onAlerts(FIRING);
  await runOut(pilot);
  const last = w.trail.at(-1)!;
  assert.equal(last.step, 'retired');
  assert.equal(last.figures.decision, 'not better');
  assert.equal(last.figures.events, 300);
  assert.equal(w.roles().live, 'v1');
  assert.equal(w.roles().shadow, null);
  assert.deepEqual(w.notes, ['retired']);
});

test('a failed training ends the run with the reason; live is untouched', async () => {
  const w = world(() => 'better', { trainFails: true });
  const pilot = pilotIn(w);
  pilot.onAlerts(FIRING);
  await runOut(pilot);
  assert.equal(w.trail.at(-1)!.step, 'failed');
  assert.match(w.trail.at(-1)!.reason, /too few labelled rows \(12 of 500\); live untouched/);
  assert.equal(w.roles().live, 'v1');
});

test('approve mode: nothing is promoted until a person does; then probation', async () => {
  const w = world((inc) => (inc === 'v1' ? 'better' : 'not better'));
  const pilot = pilotIn(w, policy({ mode: 'approve' }));
  pilot.onAlerts(FIRING);
  for (let i = 0; i < 10; i++) {
    await pilot.tick();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(w.trail.at(-1)!.step, 'awaiting approval');
  assert.equal(w.roles().live, 'v1', 'not promoted');
  assert.deepEqual(w.notes, ['awaiting approval']);
  w.setRoles({ live: 'v2', shadow: null, previous: ['v1'], by: 'ana@laptop' });
  await runOut(pilot);
  const approved = w.trail.find((s) => s.step === 'approved')!;
  assert.equal(approved.by, 'ana@laptop');
  assert.equal(w.trail.at(-1)!.step, 'promoted');
});

test('probation: a promoted version that does worse is rolled back, saying why', async () => {
  // v2 beats v1 in judging, then v1 (shadow in probation) beats v2.
  const w = world(() => 'better');
  const pilot = pilotIn(w);
  pilot.onAlerts(FIRING);
  await runOut(pilot);
  assert.equal(w.trail.at(-1)!.step, 'rolled back');
  assert.match(w.trail.at(-1)!.reason, /v2 did worse than v1 in probation/);
  assert.equal(w.roles().live, 'v1');
  assert.deepEqual(w.notes, ['rolled back']);
});

test('restarted mid-run: judging resumes from the trail; training ends with the reason', async () => {
  const w = world(() => 'undecided');
  const first = pilotIn(w);
  first.onAlerts(FIRING);
  for (let i = 0; i < 6; i++) {
    await first.tick();
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(first.status().run?.state, 'judging');
  const second = pilotIn(w);
  await second.resume();
  assert.equal(second.status().run?.state, 'judging');
  assert.equal(second.status().run?.candidate, 'v2');
  assert.equal(w.trail.at(-1)!.step, 'resumed');

  // What the trail holds when the process died during training: the run's first step alone.
  const t = world(() => 'better');
  t.trail.push({
    run: 'r1',
    seq: 1,
    at: new Date().toISOString(),
    by: 'autopilot',
    step: 'started',
    state: 'training',
    version: '',
    reason: 'schedule',
    figures: { cut: new Date().toISOString() },
  });
  const after = pilotIn(t);
  await after.resume();
  assert.equal(t.trail.at(-1)!.step, 'failed');
  assert.match(t.trail.at(-1)!.reason, /restarted while this run was training/);
  assert.equal(after.status().run, undefined);
});

test('dry run: says what it would do, records and changes nothing', async () => {
  const w = world(() => 'better');
  const pilot = createPilot({
    policy: policy(),
    actions: w.actions,
    log: createLogger('test', 'silent'),
    metrics: createAutopilotMetrics(),
    dryRun: true,
  });
  pilot.onAlerts(FIRING);
  await runOut(pilot, 5);
  assert.deepEqual(w.trail, []);
  assert.deepEqual(w.calls, []);
});
