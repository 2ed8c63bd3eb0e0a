/**
 * A challenger against the incumbent on the labelled events both scored, by the sequential test
 * (sequential-test.ts): the live version's rows in `predictions`, the challenger's in
 * `shadow_predictions` (shadowed or backfilled). Events are taken in the order their labels
 * arrived, so each check extends the sequence the previous one saw. What `models compare` shows,
 * what `models promote` gates on, and what the autopilot follows, in judging and in probation.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { sql } from '../lib/sql.ts';
import type { ScoreName } from '../schemas/prediction.ts';
import { withLabelsSql } from '../warehouse/labels-sql.ts';
import { type SequentialOptions, type SequentialState, sequentialTest } from './sequential-test.ts';
import type { VersionRecord } from './store.ts';

/** The test `models promote` and `compare` use: no margin, 5 % false promotions, 200 events first. */
export const PROMOTION_TEST: SequentialOptions = { alpha: 0.05, margin: 0, minEvents: 200 };

/** The score a version publishes as its answer: its ensemble when it ships one, else its best model. */
export function servedScore(record: Pick<VersionRecord, 'metrics' | 'files'>): ScoreName {
  if (record.files.some((f) => f.path === 'ensemble.json')) return 'ensemble';
  const [best] = Object.entries(record.metrics)
    .filter(([m]) => m !== 'ensemble')
    .sort((a, b) => a[1] - b[1]);
  return (best?.[0] ?? 'rf') as ScoreName;
}

export interface Side {
  version: string;
  score: ScoreName;
}

const LIVE_COLUMNS = ['event_id', 'track_id', 'score', 'popularity', 'scored_at'];

/** A time range in epoch seconds, [from, to). */
export interface Span {
  from: number;
  to: number;
}

/**
 * Per event: both errors, in the order the labels arrived. With `unseen`, only tracks that had no
 * event stored in that span: a candidate trained on those events is judged on tracks it never
 * saw (the grouped protocol's rule), not on labels it learned.
 */
export function pairedErrorsSql(
  incumbent: Side,
  challenger: Side,
  sinceSeconds: number,
  unseen?: Span,
): string {
  const notTrainedOn = unseen
    ? sql` AND track_id NOT IN (SELECT track_id FROM track_events WHERE event_time >= toDateTime(${Math.floor(unseen.from)}) AND event_time < toDateTime(${Math.floor(unseen.to)}))`
    : '';
  const live =
    'SELECT event_id, track_id, score, popularity, scored_at FROM predictions FINAL ' +
    sql`WHERE model = ${incumbent.score} AND model_version = ${`${incumbent.score}-${incumbent.version}`}
      AND event_time >= toDateTime(${Math.floor(sinceSeconds)})` +
    notTrainedOn;
  // `label AS truth` a level down: a WHERE sees its SELECT's aliases (see compare.ts).
  return `SELECT incumbent_score - truth_value AS incumbent_error, challenger_score - truth_value AS challenger_error
FROM (
  SELECT event_id, score AS incumbent_score, toFloat64(assumeNotNull(truth)) AS truth_value, toInt64(scored_at) + label_delay_s AS arrival
  FROM (
    SELECT event_id, score, label AS truth, scored_at, label_delay_s
    FROM (${withLabelsSql(live, LIVE_COLUMNS)}) AS with_labels
    WHERE isNotNull(label)
  ) AS labelled
) AS inc ALL INNER JOIN (${sql`
  SELECT event_id, score AS challenger_score FROM shadow_predictions FINAL
  WHERE set_version = ${challenger.version} AND model = ${challenger.score}
    AND event_time >= toDateTime(${Math.floor(sinceSeconds)})`}
) AS ch USING event_id
ORDER BY arrival, event_id`;
}

export interface Judgement extends SequentialState {
  incumbent: Side;
  challenger: Side;
  since: string;
}

export interface JudgeOptions {
  test?: SequentialOptions;
  /** Leave out the tracks with events in this span (the candidate's training data). */
  unseen?: { from: Date; to: Date };
}

/** The test's state now, for `challenger` against `incumbent` on events since `since`. */
export async function judge(
  ch: ClickHouseClient,
  sides: { incumbent: Side; challenger: Side },
  since: Date,
  opts: JudgeOptions = {},
): Promise<Judgement> {
  const unseen = opts.unseen && {
    from: opts.unseen.from.getTime() / 1000,
    to: opts.unseen.to.getTime() / 1000,
  };
  const rs = await ch.query({
    query: pairedErrorsSql(sides.incumbent, sides.challenger, since.getTime() / 1000, unseen),
    format: 'JSONEachRow', // 18.16 has no compact JSON format
  });
  const rows = await rs.json<{ incumbent_error: number; challenger_error: number }>();
  const state = sequentialTest(
    rows.map((r) => ({ incumbent: Number(r.incumbent_error), challenger: Number(r.challenger_error) })),
    opts.test ?? PROMOTION_TEST,
  );
  return { ...state, ...sides, since: since.toISOString() };
}
