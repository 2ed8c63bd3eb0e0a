/**
 * The autopilot's loop, as a state machine over one run at a time:
 *
 *   idle ─trigger─► training ─► (push, backfill, shadow) ─► judging ─better─► probation ─► done
 *                       │                                     │  └─(approve mode)► approval ─┘
 *                       └─fails─► done                        └─not better / window over─► done (retired)
 *
 * `tick()` moves it on; the main loop calls it every few seconds, and every step goes to the audit
 * trail before the next begins, so a restarted autopilot can pick its run up (`resume()`). The
 * outside world (training, the registry, ClickHouse, Alertmanager) comes in as `Actions`, which
 * keeps this file about decisions alone.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import type { Judgement } from '../registry/judge.ts';
import type { RoleState } from '../registry/roles.ts';
import { describeTest, type SequentialOptions } from '../registry/sequential-test.ts';
import type { RunState, Step } from '../registry/trail.ts';
import type { AutopilotMetrics } from './metrics.ts';
import { type Policy, seconds } from './policy.ts';
import type { Trained } from './training-run.ts';

export interface Actions {
  train(cut: Date): Promise<Trained>;
  push(dir: string): Promise<string>;
  backfill(version: string, from: Date): Promise<{ events: number; seconds: number }>;
  roles(): Promise<RoleState | undefined>;
  shadow(version: string): Promise<void>;
  shadowOff(): Promise<void>;
  promote(version: string): Promise<void>;
  rollback(): Promise<void>;
  /**
   * The test of `challenger` (shadow rows) against `incumbent` (live rows) on events since
   * `since`, of tracks with no event in `unseen` (what the candidate trained on).
   */
  judge(
    incumbent: string,
    challenger: string,
    since: Date,
    opts: { test: SequentialOptions; unseen: { from: Date; to: Date } },
  ): Promise<Judgement>;
  record(step: Omit<Step, 'at'>): Promise<void>;
  lastRuns(n: number): Promise<Step[][]>;
  notify(o: { run: string; outcome: string; version: string; summary: string }): Promise<void>;
}

/** A run in progress, as the trail's figures can rebuild it. */
interface Run {
  id: string;
  seq: number;
  state: RunState;
  started: Date;
  /** Training read labels up to here; judging counts events from here on. */
  cut: Date;
  candidate?: string;
  /** When judging (or the wait for approval) began. */
  judgingFrom?: Date;
  /** The live version the candidate replaced, and when. */
  replaced?: string;
  promotedAt?: Date;
  lastCheck: number;
  busy: boolean;
}

interface Firing {
  name: string;
  since: Date;
  labels: Record<string, string>;
}

export interface AlertmanagerPayload {
  alerts?: { status?: string; labels?: Record<string, string>; startsAt?: string; fingerprint?: string }[];
}

const newRunId = (now: Date) => `${now.toISOString().slice(0, 19)}Z-${randomBytes(2).toString('hex')}`;

export function createPilot(deps: {
  policy: Policy;
  actions: Actions;
  log: Logger;
  metrics: AutopilotMetrics;
  dryRun?: boolean;
  now?: () => Date;
}) {
  const { policy, actions: act, log, metrics } = deps;
  const now = deps.now ?? (() => new Date());
  const firing = new Map<string, Firing>();
  let run: Run | undefined;
  let lastStart: Date | undefined;
  const test = (margin: number): SequentialOptions => ({
    alpha: policy.judging.alpha,
    margin,
    minEvents: policy.judging.min_labelled_events,
  });

  async function step(
    name: string,
    state: RunState,
    reason: string,
    figures: Record<string, unknown> = {},
    by = 'autopilot',
  ) {
    const r = run!;
    r.state = state;
    r.seq++;
    log.info({ run: r.id, step: name, state, version: r.candidate, ...figures }, reason);
    await act.record({
      run: r.id,
      seq: r.seq,
      by,
      step: name,
      state,
      version: r.candidate ?? '',
      reason,
      figures,
    });
  }

  /** Ends the run: the last step, the outcome to Alertmanager, the metrics. */
  async function finish(outcome: string, reason: string, figures: Record<string, unknown> = {}) {
    const r = run!;
    await step(outcome, 'done', reason, { outcome, ...figures });
    metrics.outcome(outcome, (now().getTime() - r.started.getTime()) / 1000);
    await act.notify({ run: r.id, outcome, version: r.candidate ?? '', summary: reason });
    run = undefined;
  }

  /** Why a run should start now, or undefined. */
  function triggerReason(): string | undefined {
    const t = now();
    if (lastStart && t.getTime() - lastStart.getTime() < seconds(policy.guardrails.cooldown) * 1000) return;
    const every = policy.trigger.every;
    if (every && (!lastStart || t.getTime() - lastStart.getTime() >= seconds(every) * 1000))
      return lastStart ? `schedule: every ${every}` : `schedule: every ${every} (first run)`;
    const need = seconds(policy.trigger.firing_for ?? '0s') * 1000;
    const ripe = [...firing.values()].filter((f) => t.getTime() - f.since.getTime() >= need);
    if (!ripe.length) return;
    const describe = (f: Firing) => {
      const detail = ['version', 'feature', 'model']
        .filter((k) => f.labels[k])
        .map((k) => `${k}=${f.labels[k]}`);
      return `${f.name}${detail.length ? ` (${detail.join(', ')})` : ''}`;
    };
    return `${ripe.map(describe).join(', ')} firing for ${policy.trigger.firing_for} or more`;
  }

  async function start(reason: string) {
    const t = now();
    lastStart = t;
    if (deps.dryRun) {
      log.info(
        { reason, policy },
        `dry run: would train (${policy.training.models.join(', ')}, last ${policy.training.since}), push, backfill, shadow and judge a candidate; nothing done`,
      );
      return;
    }
    run = { id: newRunId(t), seq: 0, state: 'training', started: t, cut: t, lastCheck: 0, busy: true };
    metrics.started();
    await step('started', 'training', reason, { cut: t.toISOString(), policy });
    void prepare(run);
  }

  /** Train, push, backfill, shadow: one sequence; a failure ends the run, live untouched. */
  async function prepare(r: Run) {
    try {
      const trained = await metrics.timed('train', () => act.train(r.cut));
      const { dir, ...figures } = trained;
      await step(
        'trained',
        'training',
        `trained on ${trained.trainRows} labelled rows in ${trained.seconds.toFixed(0)} s`,
        figures,
      );
      r.candidate = await metrics.timed('push', () => act.push(dir));
      await step('pushed', 'training', `pushed as ${r.candidate}`, {});
      // Shadow first, then backfill from the training cut: the events stored while the workers
      // load the shadow are then scored by the backfill (a row scored twice is one row).
      const roles = await act.roles();
      if (roles?.shadow) await act.shadowOff();
      await act.shadow(r.candidate);
      const filled = await metrics.timed('backfill', () => act.backfill(r.candidate!, r.cut));
      await step(
        'backfilled',
        'training',
        `scored the ${filled.events} events stored since the training cut`,
        filled,
      );
      r.judgingFrom = now();
      await step(
        'shadowed',
        'judging',
        `shadowing ${r.candidate} beside live ${roles?.live}${roles?.shadow ? ` (it replaced shadow ${roles.shadow})` : ''}`,
        { live: roles?.live, judging_from: r.judgingFrom.toISOString() },
      );
    } catch (err) {
      const roles = await act.roles().catch(() => undefined);
      if (r.candidate && roles?.shadow === r.candidate) await act.shadowOff().catch(() => undefined);
      await finish('failed', `${(err as Error).message}; live untouched`).catch((e: unknown) =>
        log.error({ err: e }, 'could not record the failed run'),
      );
    } finally {
      r.busy = false;
    }
  }

  /** judging: the test on the candidate against live, on events since the training cut. */
  async function judgeCandidate(r: Run) {
    const roles = await act.roles();
    if (!roles || roles.shadow !== r.candidate)
      return finish(
        'ended',
        `the roles changed outside the autopilot (live ${roles?.live}, shadow ${roles?.shadow ?? 'none'}); ${r.candidate} no longer judged`,
      );
    const j = await act.judge(roles.live, r.candidate, r.cut, {
      test: test(policy.judging.margin),
      unseen: trainedOn(r),
    });
    metrics.testEvents(j.events);
    const line = describeTest(j, { challenger: r.candidate, incumbent: roles.live });
    const figures = testFigures(j);
    if (j.decision === 'better') {
      if (policy.mode === 'approve') {
        await step(
          'awaiting approval',
          'approval',
          `${line}; approve with \`npx hitstream models promote ${r.candidate}\` or on the Models page`,
          figures,
        );
        return act.notify({ run: r.id, outcome: 'awaiting approval', version: r.candidate, summary: line });
      }
      await act.promote(r.candidate);
      return enterProbation(r, roles.live, 'promoted', line, figures);
    }
    const overdue = now().getTime() - r.judgingFrom!.getTime() >= seconds(policy.judging.window) * 1000;
    if (j.decision === 'not better' || overdue) {
      await act.shadowOff();
      return finish(
        'retired',
        j.decision === 'not better' ? line : `${line}; judging.window (${policy.judging.window}) is over`,
        figures,
      );
    }
    log.debug({ run: r.id, ...figures }, line);
  }

  /** approval: waits for a person to promote the candidate (or to turn it away). */
  async function awaitApproval(r: Run) {
    const roles = await act.roles();
    if (roles && roles.live === r.candidate)
      return enterProbation(r, previousLive(roles), 'approved', `approved by ${roles.by}`, {}, roles.by);
    if (roles?.shadow !== r.candidate)
      return finish('retired', `${r.candidate} is no longer the shadow: turned away by ${roles?.by}`);
    if (now().getTime() - r.judgingFrom!.getTime() >= seconds(policy.judging.window) * 1000) {
      await act.shadowOff();
      return finish('retired', `not approved within judging.window (${policy.judging.window})`);
    }
  }

  const previousLive = (roles: RoleState) => roles.previous.at(-1) ?? '';

  /** The span the candidate's training read: its tracks are left out of every judgement. */
  const trainedOn = (r: Run) => ({
    from: new Date(r.cut.getTime() - seconds(policy.training.since) * 1000),
    to: r.cut,
  });

  async function enterProbation(
    r: Run,
    replaced: string,
    name: string,
    reason: string,
    figures: Record<string, unknown>,
    by = 'autopilot',
  ) {
    r.replaced = replaced;
    r.promotedAt = now();
    await step(
      name,
      'probation',
      reason,
      { ...figures, replaced, promoted_at: r.promotedAt.toISOString() },
      by,
    );
    if (replaced) await act.shadow(replaced);
    await step(
      'probation',
      'probation',
      `${replaced} shadowed for ${policy.guardrails.probation}: a worse ${r.candidate} is rolled back`,
      {},
    );
  }

  /** probation: the replaced version, as shadow, against the new live one. */
  async function watchProbation(r: Run) {
    const roles = await act.roles();
    if (!roles || roles.live !== r.candidate)
      return finish(
        'ended',
        `${r.candidate} is no longer live (live ${roles?.live}, by ${roles?.by}); probation ends`,
      );
    const j = r.replaced
      ? await act.judge(r.candidate, r.replaced, r.promotedAt!, { test: test(0), unseen: trainedOn(r) })
      : undefined;
    const line = j
      ? describeTest(j, { challenger: r.replaced!, incumbent: r.candidate })
      : 'no version to compare with';
    if (j?.decision === 'better') {
      await act.rollback();
      return finish(
        'rolled back',
        `${r.candidate} did worse than ${r.replaced} in probation: ${line}`,
        testFigures(j),
      );
    }
    const over = now().getTime() - r.promotedAt!.getTime() >= seconds(policy.guardrails.probation) * 1000;
    if (j?.decision === 'not better' || over || !r.replaced) {
      if (roles.shadow === r.replaced) await act.shadowOff();
      return finish('promoted', `${r.candidate} kept after probation: ${line}`, j ? testFigures(j) : {});
    }
  }

  async function advance(r: Run) {
    if (r.state === 'judging') return judgeCandidate(r);
    if (r.state === 'approval') return awaitApproval(r);
    if (r.state === 'probation') return watchProbation(r);
  }

  return {
    /** Alertmanager's webhook: firing alerts of the policy are remembered, resolved ones forgotten. */
    onAlerts(payload: AlertmanagerPayload) {
      let heard = 0;
      for (const a of payload.alerts ?? []) {
        const name = a.labels?.alertname ?? '';
        if (!policy.trigger.alerts.includes(name)) continue;
        heard++;
        const key = a.fingerprint ?? JSON.stringify(a.labels);
        if (a.status === 'resolved') firing.delete(key);
        else firing.set(key, { name, since: new Date(a.startsAt ?? now()), labels: a.labels ?? {} });
      }
      return heard;
    },
    /** One step of the loop: start a run when due, or move the one in progress on. */
    async tick() {
      if (!run) {
        const reason = triggerReason();
        if (reason) await start(reason);
        return;
      }
      const r = run;
      const due = Date.now() - r.lastCheck >= seconds(policy.judging.check_every) * 1000;
      if (r.busy || r.state === 'training' || !due) return;
      r.busy = true;
      r.lastCheck = Date.now();
      try {
        await advance(r);
      } finally {
        r.busy = false;
      }
    },
    /** At start: the trail's last run, resumed when it was judging, waiting or on probation. */
    async resume() {
      const [last] = await act.lastRuns(1);
      if (!last?.length) return;
      lastStart = new Date(last[0]!.at);
      const tail = last.at(-1)!;
      if (tail.state === 'done') return;
      run = rebuild(last);
      if (tail.state === 'training')
        return finish(
          'failed',
          'the autopilot restarted while this run was training (its child stopped with it); live untouched',
        );
      await step('resumed', tail.state, `the autopilot restarted; ${tail.state} goes on`, {});
    },
    status() {
      return {
        policy,
        dryRun: Boolean(deps.dryRun),
        run: run && {
          id: run.id,
          state: run.state,
          candidate: run.candidate,
          started: run.started.toISOString(),
        },
        firing: [...firing.values()].map((f) => ({
          alert: f.name,
          since: f.since.toISOString(),
          labels: f.labels,
        })),
        lastStart: lastStart?.toISOString(),
      };
    },
    /** Settles the current step (a tick in flight), for a clean stop. */
    idle: () => !run?.busy,
  };
}

function testFigures(j: Judgement): Record<string, unknown> {
  return {
    decision: j.decision,
    events: j.events,
    decided_at: j.decidedAt,
    mean_gain: j.mean,
    lower: Number.isFinite(j.lower) ? j.lower : null,
    upper: Number.isFinite(j.upper) ? j.upper : null,
    rmse_live: Math.sqrt(j.incumbentMse),
    rmse_challenger: Math.sqrt(j.challengerMse),
    score_live: j.incumbent.score,
    score_challenger: j.challenger.score,
    alpha: j.alpha,
    margin: j.margin,
  };
}

/** A run from its steps in the trail (the figures hold what the state machine needs). */
function rebuild(steps: Step[]): Run {
  const fig = (name: string) => steps.find((s) => s.step === name)?.figures ?? {};
  const promoted = steps.find((s) => s.figures.promoted_at);
  const first = steps[0]!;
  const last = steps.at(-1)!;
  const judgingFrom = fig('shadowed').judging_from as string | undefined;
  return {
    id: first.run,
    seq: last.seq,
    state: last.state,
    started: new Date(first.at),
    cut: new Date((fig('started').cut as string | undefined) ?? first.at),
    candidate: last.version || undefined,
    judgingFrom: judgingFrom ? new Date(judgingFrom) : undefined,
    replaced: promoted?.figures.replaced as string | undefined,
    promotedAt: promoted ? new Date(promoted.figures.promoted_at as string) : undefined,
    lastCheck: 0,
    busy: false,
  };
}
