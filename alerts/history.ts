/**
 * The tunable rules' values over stored history, window by window: the quantities the API's
 * exporter computes every minute over its window (feature and score PSI, disagreement, RMSE over
 * test RMSE), recomputed for every window that ended on a minute of the history. One query per
 * quantity returns counts per minute; the windows are sums of minutes, here.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { psi } from '../models/drift-reference.ts';
import {
  disagreementPerMinuteSql,
  errorPerMinuteOfVersionSql,
  featureBinsPerMinuteSql,
  LIVE_VERSION_SQL,
  scoreBinsPerMinuteSql,
  storedEstimatesSql,
} from '../warehouse/drift-sql.ts';
import { driftReferencesSql, parseDriftReferences } from '../registry/references.ts';
import { sql } from '../lib/sql.ts';
import { FEATURE_NAMES } from '../schemas/track-features.ts';

/** One window of one key (a feature, a model, or '' for the version): its value and its events. */
export interface WindowValue {
  key: string;
  /** The window's last minute, epoch seconds. */
  end: number;
  value: number;
  n: number;
}

/** Per key, per minute: the counts a window adds up (bins, or sums and counts). */
export type MinuteCounts = Map<string, Map<number, number[]>>;

/** Adds `counts` into minute `minute` of `key` (arrays of the same length add element-wise). */
export function addCounts(into: MinuteCounts, key: string, minute: number, counts: number[]): void {
  const byMinute = into.get(key) ?? new Map<number, number[]>();
  into.set(key, byMinute);
  const have = byMinute.get(minute);
  byMinute.set(minute, have ? have.map((x, i) => x + (counts[i] ?? 0)) : [...counts]);
}

/**
 * Every window of `windowMinutes` minutes that ends on a minute from the first stored minute +
 * window − 1 to the last, per key; `value` turns a window's summed counts into the rule's value.
 */
export function slidingWindows(
  counts: MinuteCounts,
  windowMinutes: number,
  value: (key: string, sums: number[]) => { value: number; n: number } | undefined,
): WindowValue[] {
  const out: WindowValue[] = [];
  for (const [key, byMinute] of counts) {
    const minutes = [...byMinute.keys()].sort((a, b) => a - b);
    if (!minutes.length) continue;
    const first = minutes[0]!;
    const last = minutes.at(-1)!;
    const width = byMinute.get(first)!.length;
    let sums = new Array<number>(width).fill(0);
    for (let end = first; end <= last; end += 60) {
      const add = byMinute.get(end);
      const drop = byMinute.get(end - windowMinutes * 60);
      if (add) sums = sums.map((x, i) => x + (add[i] ?? 0));
      if (drop) sums = sums.map((x, i) => x - (drop[i] ?? 0));
      if (end < first + (windowMinutes - 1) * 60) continue; // not a whole window yet
      const v = value(key, sums);
      if (v) out.push({ key, end, ...v });
    }
  }
  return out;
}

const psiOf = (reference: readonly number[]) => (_key: string, bins: number[]) => {
  const n = bins.reduce((a, b) => a + b, 0);
  return n
    ? {
        value: psi(
          reference,
          bins.map((c) => c / n),
        ),
        n,
      }
    : undefined;
};

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
}

export interface RuleHistory {
  version: string;
  /** Minutes from the first to the last stored minute. */
  minutes: number;
  windows: Record<
    | 'HitstreamFeatureDrift'
    | 'HitstreamScoreDrift'
    | 'HitstreamModelsDisagree'
    | 'HitstreamErrorAboveTest'
    | 'HitstreamEstimatedErrorRising',
    WindowValue[]
  >;
}

/** The live version's rule values over the last `historySeconds`, in windows of `windowSeconds`. */
export async function ruleHistory(
  client: ClickHouseClient,
  historySeconds: number,
  windowSeconds: number,
): Promise<RuleHistory> {
  const [live] = await rows<{ v: string }>(client, `SELECT ${LIVE_VERSION_SQL} AS v`);
  const version = live?.v ?? '';
  const refs = parseDriftReferences(await rows<Record<string, unknown>>(client, driftReferencesSql(version)));
  if (!refs)
    throw new Error(
      `the live version ${JSON.stringify(version)} has no drift references in ClickHouse: start the pipeline once (\`npx hitstream up\`) or push it (\`npx hitstream models push\`)`,
    );
  const windowMinutes = Math.max(1, Math.round(windowSeconds / 60));
  const features = Object.fromEntries(
    Object.entries(refs.features).filter(([f]) => (FEATURE_NAMES as readonly string[]).includes(f)),
  );
  const [fr, sr, dr, er, metrics, estimates] = await Promise.all([
    rows<{ minute: string; feature: string; bin: number; n: string }>(
      client,
      featureBinsPerMinuteSql(
        Object.fromEntries(Object.entries(features).map(([f, r]) => [f, r.edges])),
        historySeconds,
      ),
    ),
    rows<{ minute: string; model: string; bin: number; n: string }>(
      client,
      scoreBinsPerMinuteSql(
        Object.fromEntries(Object.entries(refs.scores).map(([m, r]) => [m, r.edges])),
        historySeconds,
        version,
      ),
    ),
    rows<{ minute: string; n: string; spread_sum: number }>(
      client,
      disagreementPerMinuteSql(historySeconds, version),
    ),
    rows<{ minute: string; model: string; n: string; sse: number }>(
      client,
      errorPerMinuteOfVersionSql(historySeconds, version),
    ),
    rows<{ metrics: string }>(
      client,
      sql`SELECT metrics FROM model_versions FINAL WHERE version = ${version}`,
    ),
    // The estimates the API stored, each over the window that ended that minute already.
    rows<{ minute: string; model: string; estimated_rmse: number; events: string }>(
      client,
      storedEstimatesSql(historySeconds, version),
    ),
  ]);
  const binned = (list: { minute: string; key: string; bin: number; n: string }[], bins: number) => {
    const counts: MinuteCounts = new Map();
    for (const r of list) {
      const c = new Array<number>(bins).fill(0);
      c[Number(r.bin)] = Number(r.n);
      addCounts(counts, r.key, Number(r.minute), c);
    }
    return counts;
  };
  const featureCounts = binned(
    fr.map((r) => ({ ...r, key: r.feature })),
    10,
  );
  const scoreCounts = binned(
    sr.map((r) => ({ ...r, key: r.model })),
    10,
  );
  const disagreement: MinuteCounts = new Map();
  for (const r of dr) addCounts(disagreement, '', Number(r.minute), [Number(r.n), Number(r.spread_sum)]);
  const errors: MinuteCounts = new Map();
  for (const r of er) addCounts(errors, r.model, Number(r.minute), [Number(r.n), Number(r.sse)]);
  const testRmse = metrics[0] ? (JSON.parse(metrics[0].metrics) as Record<string, number>) : {};
  const all = [...fr, ...sr, ...dr, ...er].map((r) => Number(r.minute));
  return {
    version,
    minutes: all.length ? (Math.max(...all) - Math.min(...all)) / 60 + 1 : 0,
    windows: {
      HitstreamFeatureDrift: slidingWindows(featureCounts, windowMinutes, (f, b) =>
        psiOf(features[f]!.proportions)(f, b),
      ),
      HitstreamScoreDrift: slidingWindows(scoreCounts, windowMinutes, (m, b) =>
        psiOf(refs.scores[m as keyof typeof refs.scores]!.proportions)(m, b),
      ),
      HitstreamModelsDisagree: slidingWindows(disagreement, windowMinutes, (_k, [n = 0, s = 0]) =>
        n ? { value: s / n, n } : undefined,
      ),
      // The rule's own quantity: how far RMSE is above the version's test RMSE (0.15 = 15%).
      HitstreamErrorAboveTest: slidingWindows(errors, windowMinutes, (m, [n = 0, sse = 0]) =>
        n && testRmse[m] ? { value: Math.sqrt(sse / n) / testRmse[m] - 1, n } : undefined,
      ),
      // The rule's quantity again: how far the estimate is above the test RMSE. `n` is the events
      // the estimate read (a sample of at most 5,000).
      HitstreamEstimatedErrorRising: estimates.flatMap((r) =>
        testRmse[r.model]
          ? [
              {
                key: r.model,
                end: Number(r.minute),
                value: Number(r.estimated_rmse) / testRmse[r.model]! - 1,
                n: Number(r.events),
              },
            ]
          : [],
      ),
    },
  };
}
