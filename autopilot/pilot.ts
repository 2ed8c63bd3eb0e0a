/**
 * The autopilot's loop, as a state machine over one run at a time:
 *
 *   idle ─trigger─► training ─► (push, backfill, shadow) ─► judging ─better─► probation ─► done
 *                       │                                     │  └─(approve mode)► approval ─┘
 *                       └─fails─► done                        └─not better / window over─► done (retired)
 *
 * `tick()` moves it on; the main loop calls it every few seconds, and every step goes to the audit
 * trail before the next begins, so a restarted autopilot can pick its run up (`resume()`). What
 * starts a run is in triggers.ts, each phase's decision in phases.ts; the outside world (training,
 * the registry, ClickHouse, Alertmanager) comes in as `Actions` (run.ts), so none of these files
 * touches a service.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../lib/logger.ts';
import type { AutopilotMetrics } from './metrics.ts';
import { awaitApproval, judgeCandidate, prepare, watchProbation } from './phases.ts';
import { type Policy, seconds } from './policy.ts';
import { type Actions, rebuild, type Run, type RunContext } from './run.ts';
import { type AlertmanagerPayload, createTriggers } from './triggers.ts';

export type { Actions } from './run.ts';

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
  const triggers = createTriggers(policy, now);
  let run: Run | undefined;
  let lastStart: Date | undefined;

  const context: RunContext = {
    policy,
    act,
    metrics,
    log,
    now,
    async step(r, name, state, reason, figures = {}, by = 'autopilot') {
      r.state = state;
      r.seq++;
      // The policy in force goes to the trail (the audit), not to every log line.
      const shown = Object.fromEntries(Object.entries(figures).filter(([k]) => k !== 'policy'));
      log.info({ run: r.id, step: name, state, version: r.candidate, ...shown }, reason);
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
    },
    async finish(r, outcome, reason, figures = {}) {
      await context.step(r, outcome, 'done', reason, { outcome, ...figures });
      metrics.outcome(outcome, (now().getTime() - r.started.getTime()) / 1000);
      await act.notify({ run: r.id, outcome, version: r.candidate ?? '', summary: reason });
      if (run === r) run = undefined;
    },
  };

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
    await context.step(run, 'started', 'training', reason, { cut: t.toISOString(), policy });
    void prepare(context, run);
  }

  async function advance(r: Run) {
    if (r.state === 'judging') return judgeCandidate(context, r);
    if (r.state === 'approval') return awaitApproval(context, r);
    if (r.state === 'probation') return watchProbation(context, r);
  }

  return {
    /** Alertmanager's webhook: firing alerts of the policy are remembered, resolved ones forgotten. */
    onAlerts: (payload: AlertmanagerPayload) => triggers.hear(payload),
    /** One step of the loop: start a run when due, or move the one in progress on. */
    async tick() {
      if (!run) {
        const reason = triggers.due(lastStart);
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
        return context.finish(
          run,
          'failed',
          'the autopilot restarted while this run was training (its child stopped with it); live untouched',
        );
      await context.step(run, 'resumed', tail.state, `the autopilot restarted; ${tail.state} goes on`);
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
        firing: triggers.firing(),
        lastStart: lastStart?.toISOString(),
      };
    },
    /** Settles the current step (a tick in flight), for a clean stop. */
    idle: () => !run?.busy,
  };
}
