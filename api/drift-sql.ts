/**
 * Drift SQL: live bin counts per feature and per model score over a window, with the bins of the
 * training reference (decile edges from the manifests). Portable to ClickHouse 18.16 and current:
 * a value's bin is the number of edges ≤ it, written as a sum of comparisons,
 * `(x >= e1) + (x >= e2) + …`, because 18.16's lambdas cannot see table columns
 * (`arrayMap(e -> x >= e, …)` fails there with "Unknown identifier").
 */
import { ident, sql, sqlLiteral } from '../lib/sql.ts';
import { FEATURE_NAMES, MODEL_NAMES, type ModelName } from '../schemas/index.ts';

export const binExpr = (column: string, edges: readonly number[]) =>
  edges.length
    ? `(${edges.map((e) => `(toFloat64(${ident(column).name}) >= ${sqlLiteral(e)})`).join(' + ')})`
    : '0';

/** One row per (feature, bin): `feature`, `bin`, `n`, for track events in the last `windowSeconds`. */
export function featureBinsSql(edges: Record<string, readonly number[]>, windowSeconds: number): string {
  return FEATURE_NAMES.filter((f) => edges[f])
    .map(
      (f) => `SELECT ${sqlLiteral(f)} AS feature, ${binExpr(f, edges[f]!)} AS bin, count() AS n
FROM track_events FINAL
WHERE event_time >= now() - ${sqlLiteral(Math.round(windowSeconds))}
GROUP BY feature, bin`,
    )
    .join('\nUNION ALL\n');
}

/** One row per (model, bin) of predicted scores in the window. */
export function scoreBinsSql(edges: Record<ModelName, readonly number[]>, windowSeconds: number): string {
  return MODEL_NAMES.map(
    (m) =>
      sql`SELECT ${m} AS model, ` +
      binExpr('score', edges[m]) +
      sql` AS bin, count() AS n
FROM predictions FINAL
WHERE model = ${m} AND scored_at >= now() - ${Math.round(windowSeconds)}
GROUP BY model, bin`,
  ).join('\nUNION ALL\n');
}
