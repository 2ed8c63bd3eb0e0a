/**
 * The autopilot's audit trail in ClickHouse (`autopilot_steps`): one row per step of a run, with
 * who, why and the figures behind it. Role changes it makes are also in `model_role_changes`.
 */
import type { ClickHouseClient } from '@clickhouse/client';

/** Where a run is after a step; `done` ends it. */
export type RunState = 'training' | 'judging' | 'approval' | 'probation' | 'done';

export interface Step {
  run: string;
  seq: number;
  at: string;
  by: string;
  step: string;
  state: RunState;
  version: string;
  reason: string;
  figures: Record<string, unknown>;
}

export interface StoredStep extends Omit<Step, 'figures' | 'seq' | 'at'> {
  seq: number | string;
  /** Epoch seconds: a DateTime as JSON is wall-clock text in the server's zone. */
  at_s: number | string;
  figures: string;
}

export const parseStep = ({ at_s, ...r }: StoredStep): Step => ({
  ...r,
  seq: Number(r.seq),
  at: new Date(Number(at_s) * 1000).toISOString(),
  figures: r.figures ? (JSON.parse(r.figures) as Record<string, unknown>) : {},
});

const COLUMNS = 'run, seq, toUInt32(at) AS at_s, by, step, state, version, reason, figures';

/** The steps of the last `runs` runs (rows for parseStep). */
export const lastRunsSql = (runs: number) =>
  `SELECT ${COLUMNS} FROM autopilot_steps
   WHERE run IN (SELECT run FROM autopilot_steps GROUP BY run ORDER BY min(at) DESC, run DESC LIMIT ${Math.floor(runs)})
   ORDER BY run, seq`;

/** Steps grouped by run, each run's steps in order, newest run first. */
export function groupRuns(steps: Step[]): Step[][] {
  const byRun = new Map<string, Step[]>();
  for (const s of steps) byRun.set(s.run, [...(byRun.get(s.run) ?? []), s]);
  return [...byRun.values()].sort(
    (a, b) => b[0]!.at.localeCompare(a[0]!.at) || b[0]!.run.localeCompare(a[0]!.run),
  );
}

export function createTrail(ch: ClickHouseClient) {
  const query = async (q: string) =>
    (await (await ch.query({ query: q, format: 'JSONEachRow' })).json<StoredStep>()).map(parseStep);
  return {
    async record(step: Omit<Step, 'at'> & { at?: Date }) {
      await ch.insert({
        table: 'autopilot_steps',
        format: 'JSONEachRow',
        values: [
          {
            ...step,
            at: Math.floor((step.at ?? new Date()).getTime() / 1000),
            figures: JSON.stringify(step.figures),
          },
        ],
      });
    },
    /** The last `runs` runs, each with its steps in order, newest run first. */
    runs: async (runs = 20): Promise<Step[][]> => groupRuns(await query(lastRunsSql(runs))),
  };
}

export type Trail = ReturnType<typeof createTrail>;
