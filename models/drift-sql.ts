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

const FLOOR = 1e-4;

/** PSI of live shares c_k/n against reference shares, as plain arithmetic (no lambdas, no joins). */
function psiExpr(reference: readonly number[]): string {
  return reference
    .map((e, k) => {
      const a = `greatest(c${k} / n, ${FLOOR})`;
      const ek = sqlLiteral(Math.max(e, FLOOR));
      return `(${a} - ${ek}) * log(${a} / ${ek})`;
    })
    .join(' + ');
}

/**
 * PSI per minute of one column against its reference, over the rows `where` selects:
 * columns `time` (the minute), `name`, `psi`. `timeFilter` is SQL (a Grafana macro or a literal
 * condition). No ORDER BY, so several can be joined with UNION ALL.
 */
export function psiPerMinuteSql(opts: {
  table: 'track_events' | 'predictions';
  column: string;
  name: string;
  timeColumn: string;
  timeFilter: string;
  where?: string;
  ref: { edges: readonly number[]; proportions: readonly number[] };
}): string {
  const counts = opts.ref.proportions.map((_, k) => `countIf(bin = ${k}) AS c${k}`).join(', ');
  const time = ident(opts.timeColumn).name;
  return `SELECT minute AS time, ${sqlLiteral(opts.name)} AS name, ${psiExpr(opts.ref.proportions)} AS psi
FROM (
  SELECT toStartOfMinute(${time}) AS minute, count() AS n, ${counts}
  FROM (SELECT ${time}, ${binExpr(opts.column, opts.ref.edges)} AS bin FROM ${ident(opts.table).name} FINAL WHERE ${opts.timeFilter}${opts.where ? ` AND ${opts.where}` : ''})
  GROUP BY minute
)`;
}

/** Live share of each score bin next to the training reference, for one model. */
export function scoreDistributionSql(
  model: ModelName,
  ref: { edges: readonly number[]; proportions: readonly number[] },
  timeFilter: string,
): string {
  const where = sql`model = ${model}` + ` AND ${timeFilter}`;
  return `SELECT bin, count() / (SELECT count() FROM predictions FINAL WHERE ${where}) AS live, arrayElement(${sqlLiteral([...ref.proportions])}, bin + 1) AS reference
FROM (SELECT ${binExpr('score', ref.edges)} AS bin FROM predictions FINAL WHERE ${where})
GROUP BY bin
ORDER BY bin`;
}
