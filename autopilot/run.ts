/**
 * A run of the autopilot as data: what it needs from the outside world (`Actions`), the run in
 * progress (`Run`, which the audit trail's figures can rebuild after a restart), and what each
 * phase gets to record its steps (`RunContext`).
 */
import type { Logger } from '../lib/logger.ts';
import type { Judgement } from '../registry/judge.ts';
import type { RoleState } from '../registry/roles.ts';
import type { SequentialOptions } from '../registry/sequential-test.ts';
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
export interface Run {
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

/** What a phase gets: the world, and how to record a step or end the run. */
export interface RunContext {
  policy: Policy;
  act: Actions;
  metrics: AutopilotMetrics;
  log: Logger;
  now: () => Date;
  step(
    r: Run,
    name: string,
    state: RunState,
    reason: string,
    figures?: Record<string, unknown>,
    by?: string,
  ): Promise<void>;
  /** The last step, the outcome to Alertmanager, the metrics; the pilot is free for the next run. */
  finish(r: Run, outcome: string, reason: string, figures?: Record<string, unknown>): Promise<void>;
}

/** The test's settings from the policy, with `margin` (the policy's when judging, 0 in probation). */
export const testOptions = (policy: Policy, margin: number): SequentialOptions => ({
  alpha: policy.judging.alpha,
  margin,
  minEvents: policy.judging.min_labelled_events,
});

/** The span the candidate's training read: its tracks are left out of every judgement. */
export const trainedOn = (policy: Policy, r: Run) => ({
  from: new Date(r.cut.getTime() - seconds(policy.training.since) * 1000),
  to: r.cut,
});

export const previousLive = (roles: RoleState) => roles.previous.at(-1) ?? '';

export function testFigures(j: Judgement): Record<string, unknown> {
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

export /** A run from its steps in the trail (the figures hold what the state machine needs). */
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
