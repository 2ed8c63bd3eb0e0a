/**
 * Drift SQL: bin counts per feature and per model score over a window, against the bins of a
 * training reference (decile edges). The API's queries take the edges as literals; the
 * dashboards' join each row with its version's reference in table drift_references. Portable to
 * ClickHouse 18.16 and current: a value's bin is the number of edges ≤ it, written as a sum of
 * comparisons, `(x >= e1) + (x >= e2) + …`, because 18.16's lambdas cannot see the columns of a
 * FINAL read, a subquery or a join (`arrayCount(e -> x >= e, edges)` fails there with "Unknown
 * identifier: x").
 */
import { ident, sql, sqlLiteral } from '../lib/sql.ts';
import { FEATURE_NAMES, type ScoreName } from '../schemas/index.ts';
import { withLabelsSql } from './labels-sql.ts';

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

/**
 * The rows a version scored, live (`predictions`) and shadow (`shadow_predictions`): the columns
 * every per-version panel reads, plus `role`. A version's rows carry `<model>-<version>` as their
 * model_version in both tables.
 */
export function scoredRowsSql(where: string): string {
  const columns = SCORED_COLUMNS.filter((c) => c !== 'role').join(', ');
  return `SELECT ${columns}, 'live' AS role FROM predictions FINAL WHERE ${where}
UNION ALL
SELECT ${columns}, 'shadow' AS role FROM shadow_predictions FINAL WHERE ${where}`;
}

const SCORED_COLUMNS = [
  'event_id',
  'track_id',
  'model',
  'model_version',
  'score',
  'popularity',
  'inference_us',
  'scored_at',
  'role',
] as const;

/**
 * scoredRowsSql's rows with their label (warehouse/labels-sql.ts: from the labels stream, else the
 * event's own), keeping only the labelled ones: what every error figure is computed on.
 */
export const labelledRowsSql = (where: string) =>
  `SELECT * FROM (${withLabelsSql(scoredRowsSql(where), SCORED_COLUMNS)}) AS labelled WHERE isNotNull(label)`;

/** `<model>-<version>` → the version, in SQL (the inverse of the manifests' naming). */
export const VERSION_OF_ROW = 'substring(model_version, length(model) + 2)';

/** One row per (score, bin) of the scores `version` gave in the window, live or shadow. */
export function scoreBinsSql(
  edges: Partial<Record<ScoreName, readonly number[]>>,
  windowSeconds: number,
  version: string,
): string {
  return (Object.entries(edges) as [ScoreName, readonly number[]][])
    .map(
      ([m, e]) =>
        sql`SELECT ${m} AS model, ` +
        binExpr('score', e) +
        ` AS bin, count() AS n
FROM (${scoredRowsSql(sql`model = ${m} AND model_version = ${`${m}-${version}`} AND scored_at >= now() - ${Math.round(windowSeconds)}`)})
GROUP BY model, bin`,
    )
    .join('\nUNION ALL\n');
}

/** n, RMSE, MAE and bias per model of `version`'s scores on the labelled rows of the window. */
export function versionErrorSql(windowSeconds: number, version: string): string {
  const where =
    sql`scored_at >= now() - ${Math.round(windowSeconds)} AND ` +
    `${VERSION_OF_ROW} = ${sqlLiteral(version)}`;
  return `SELECT model, count() AS n, sqrt(avg((score - label) * (score - label))) AS rmse,
  avg(abs(score - label)) AS mae, avg(score - label) AS bias,
  countIf(label_source = 'stream') AS from_stream, avgIf(label_delay_s, label_source = 'stream') AS mean_label_delay_s
FROM (${labelledRowsSql(where)})
GROUP BY model`;
}

// ---- Drift against the registry's references (table drift_references), for the dashboards ----

/** drift_references spreads a reference over columns: edges e1..e9, shares p0..p9. */
export const REFERENCE_BINS = 10;
const EDGES = Array.from({ length: REFERENCE_BINS - 1 }, (_, k) => `e${k + 1}`);
const SHARES = Array.from({ length: REFERENCE_BINS }, (_, k) => `p${k}`);
const REFERENCE_COLUMNS = [...EDGES, ...SHARES].join(', ');
/** What unused edges hold: no value reaches it, so its bin stays empty (and its share is 0). */
export const NO_EDGE = 1e308;

/** One reference as drift_references' columns. Refuses more bins than the table has. */
export function referenceColumns(ref: { edges: readonly number[]; proportions: readonly number[] }) {
  if (ref.edges.length > EDGES.length || ref.proportions.length !== ref.edges.length + 1)
    throw new Error(
      `a drift reference has at most ${REFERENCE_BINS} bins and one more share than edges (got ${ref.edges.length} edges, ${ref.proportions.length} shares)`,
    );
  return Object.fromEntries([
    ...EDGES.map((e, k) => [e, ref.edges[k] ?? NO_EDGE]),
    ...SHARES.map((p, k) => [p, ref.proportions[k] ?? 0]),
  ]) as Record<string, number>;
}

/**
 * The live version: the last role change's, else (no registry, a fixed set) the version whose
 * references were written last. Feature drift is measured against its training data.
 */
export const LIVE_VERSION_SQL = `ifNull(nullIf((SELECT live FROM model_role_changes ORDER BY at DESC, seq DESC LIMIT 1), ''), (SELECT argMax(version, written_at) FROM drift_references))`;

const binOfColumns = (x: string) => `(${EDGES.map((e) => `(${x} >= ${e})`).join(' + ')})`;
const FLOOR = 1e-4;
/** Counts and reference shares per group, then PSI as plain arithmetic (no lambdas, no arrays). */
const countsAndShares = () =>
  [
    'count() AS n',
    ...SHARES.map((_, k) => `countIf(bin = ${k}) AS c${k}`),
    ...SHARES.map((p, k) => `any(${p}) AS r${k}`),
  ].join(', ');
const psiOfCounts = () =>
  SHARES.map((_, k) => {
    const a = `greatest(c${k} / n, ${FLOOR})`;
    const r = `greatest(r${k}, ${FLOOR})`;
    return `(${a} - ${r}) * log(${a} / ${r})`;
  }).join(' + ');

/**
 * PSI per minute of each feature against the live version's training reference: columns `time`,
 * `name` (the feature), `psi`. `timeFilter` is SQL on `event_time` (a Grafana macro, or literal).
 */
export function featurePsiSql(timeFilter: string): string {
  const pairs = FEATURE_NAMES.map((f) => `(${sqlLiteral(f)}, toFloat64(${ident(f).name}))`).join(', ');
  return `SELECT minute AS time, name, ${psiOfCounts()} AS psi
FROM (
  SELECT minute, name, ${countsAndShares()}
  FROM (
    SELECT minute, name, ${binOfColumns('x')} AS bin, ${SHARES.join(', ')}
    FROM (
      SELECT toStartOfMinute(event_time) AS minute, tupleElement(fv, 1) AS name, tupleElement(fv, 2) AS x
      FROM (SELECT event_time, arrayJoin([${pairs}]) AS fv FROM track_events FINAL WHERE ${timeFilter})
    ) AS events
    ALL INNER JOIN (
      SELECT name, ${REFERENCE_COLUMNS} FROM drift_references FINAL
      WHERE subject = 'feature' AND version = ${LIVE_VERSION_SQL}
    ) AS reference USING name
  )
  GROUP BY minute, name
)
ORDER BY time`;
}

/** Scored rows with their version's score reference joined (e1..e9, p0..p9, version). */
function withScoreReference(rows: string) {
  return `(${rows}) AS scored
    ALL INNER JOIN (
      SELECT model_version, version, ${REFERENCE_COLUMNS} FROM drift_references FINAL WHERE subject = 'score'
    ) AS reference USING model_version`;
}

/**
 * PSI per minute of each version's scores against that version's own training reference, live
 * and shadow: columns `time`, `name` (\`rf · VERSION\`, with \` (shadow)\` for shadow rows), `psi`.
 */
export function scorePsiSql(timeFilter: string): string {
  return `SELECT minute AS time, concat(model, ' · ', version, if(role = 'shadow', ' (shadow)', '')) AS name, ${psiOfCounts()} AS psi
FROM (
  SELECT minute, model, version, role, ${countsAndShares()}
  FROM (
    SELECT toStartOfMinute(scored_at) AS minute, model, version, role, ${binOfColumns('score')} AS bin, ${SHARES.join(', ')}
    FROM ${withScoreReference(scoredRowsSql(timeFilter))}
  )
  GROUP BY minute, model, version, role
)
ORDER BY time`;
}

/** Share of the live version's scores of `model` in each bin, next to its training reference. */
export function scoreDistributionSql(model: ScoreName, timeFilter: string): string {
  const rows = `SELECT model_version, score FROM predictions FINAL
    WHERE ${timeFilter} AND model = ${sqlLiteral(model)} AND model_version = concat(${sqlLiteral(`${model}-`)}, ${LIVE_VERSION_SQL})`;
  return `SELECT bin, count() / (SELECT count() FROM (${rows})) AS live, any(share) AS reference
FROM (
  SELECT ${binOfColumns('score')} AS bin, arrayElement([${SHARES.join(', ')}], bin + 1) AS share
  FROM ${withScoreReference(rows)}
)
GROUP BY bin
ORDER BY bin`;
}

/** RMSE and MAE per minute of each version's scores (live and shadow) on labelled rows. */
export function errorPerMinuteSql(timeFilter: string): string {
  return `SELECT toStartOfMinute(scored_at) AS time, concat(model, ' · ', ${VERSION_OF_ROW}, if(role = 'shadow', ' (shadow)', '')) AS name,
  sqrt(avg((score - label) * (score - label))) AS rmse, avg(abs(score - label)) AS mae
FROM (${labelledRowsSql(timeFilter)})
GROUP BY time, name
ORDER BY time`;
}

/**
 * How far back the by-arrival panel looks for the predictions a label judges: labels come days or
 * weeks after their events, and the dashboard's range bounds their arrival, not the scoring.
 */
const LABEL_LOOKBACK_SECONDS = 30 * 86400;

/**
 * RMSE per minute in which the labels arrived (what was learnt that minute), per model and
 * version, live and shadow: the by-arrival reading of errorPerMinuteSql's by-scoring one. An
 * event's own label (a replay) arrives with the event.
 */
export function errorByLabelArrivalSql(timeFilter: (column: string) => string): string {
  return `SELECT toStartOfMinute(arrived) AS time, name, sqrt(avg((score - label) * (score - label))) AS rmse
FROM (
  SELECT toDateTime(toInt64(scored_at) + label_delay_s) AS arrived, score, label,
    concat(model, ' · ', ${VERSION_OF_ROW}, if(role = 'shadow', ' (shadow)', '')) AS name
  FROM (${labelledRowsSql(`scored_at >= now() - ${LABEL_LOOKBACK_SECONDS}`)})
) AS by_arrival
WHERE ${timeFilter('arrived')}
GROUP BY time, name
ORDER BY time`;
}

/**
 * Per minute of scoring (live events, one row each): the share of events that have a label by
 * now, and how long the stream's labels took to arrive (minutes). Columns time, name, value.
 */
export function labelCoverageSql(timeFilter: string): string {
  const rows = withLabelsSql(
    `SELECT ${SCORED_COLUMNS.filter((c) => c !== 'role').join(', ')}, 'live' AS role FROM predictions FINAL WHERE ${timeFilter} AND model = 'rf'`,
    SCORED_COLUMNS,
  );
  return `SELECT time, name, value FROM (
  SELECT toStartOfMinute(scored_at) AS time, 'labelled events (%)' AS name, 100 * countIf(isNotNull(label)) / count() AS value
  FROM (${rows}) AS coverage GROUP BY time
  UNION ALL
  SELECT toStartOfMinute(scored_at) AS time, 'label delay, stream (min)' AS name, avg(label_delay_s) / 60 AS value
  FROM (${rows}) AS delays WHERE label_source = 'stream' GROUP BY time
)
ORDER BY time`;
}

/** Spread of the four models' scores of each event (max − min; not the ensemble, which is theirs), per minute and live version. */
export function disagreementSql(timeFilter: string): string {
  return `SELECT toStartOfMinute(first_scored) AS time, version, avg(spread) AS mean_spread, max(spread) AS max_spread
FROM (
  SELECT event_id, any(${VERSION_OF_ROW}) AS version, any(scored_at) AS first_scored, max(score) - min(score) AS spread
  FROM predictions FINAL WHERE ${timeFilter} AND model != 'ensemble'
  GROUP BY event_id
)
GROUP BY time, version
ORDER BY time`;
}

/**
 * Events `version` scored in the last `windowSeconds` (live or shadow) and the mean spread of its
 * four models' scores per event (max − min; not the ensemble, which is theirs).
 */
export function disagreementInWindowSql(windowSeconds: number, version: string): string {
  const where =
    sql`scored_at >= now() - ${Math.round(windowSeconds)} AND model != 'ensemble' AND ` +
    `${VERSION_OF_ROW} = ${sqlLiteral(version)}`;
  return `SELECT count() AS n, avg(spread) AS mean_spread
FROM (
  SELECT event_id, role, max(score) - min(score) AS spread
  FROM (${scoredRowsSql(where)})
  GROUP BY event_id, role
)`;
}

// ---- Per minute over a history, for `alerts calibrate` (the exporter's quantities, minute by minute) ----

const MINUTE_OF = (column: string) => `toUnixTimestamp(toStartOfMinute(${column}))`;

/** One row per (minute, feature, bin): `minute` (epoch s), `feature`, `bin`, `n`, over the last `historySeconds`. */
export function featureBinsPerMinuteSql(
  edges: Record<string, readonly number[]>,
  historySeconds: number,
): string {
  return FEATURE_NAMES.filter((f) => edges[f])
    .map(
      (
        f,
      ) => `SELECT ${MINUTE_OF('event_time')} AS minute, ${sqlLiteral(f)} AS feature, ${binExpr(f, edges[f]!)} AS bin, count() AS n
FROM track_events FINAL
WHERE event_time >= now() - ${sqlLiteral(Math.round(historySeconds))}
GROUP BY minute, feature, bin`,
    )
    .join('\nUNION ALL\n');
}

/** One row per (minute, model, bin) of the scores `version` gave as live. */
export function scoreBinsPerMinuteSql(
  edges: Partial<Record<ScoreName, readonly number[]>>,
  historySeconds: number,
  version: string,
): string {
  return (Object.entries(edges) as [ScoreName, readonly number[]][])
    .map(
      ([m, e]) =>
        `SELECT ${MINUTE_OF('scored_at')} AS minute, ${sqlLiteral(m)} AS model, ${binExpr('score', e)} AS bin, count() AS n
FROM predictions FINAL
WHERE model = ${sqlLiteral(m)} AND model_version = ${sqlLiteral(`${m}-${version}`)} AND scored_at >= now() - ${sqlLiteral(Math.round(historySeconds))}
GROUP BY minute, model, bin`,
    )
    .join('\nUNION ALL\n');
}

/** Per minute: events `version` scored as live, and the sum of their four models' spreads. */
export function disagreementPerMinuteSql(historySeconds: number, version: string): string {
  return `SELECT minute, count() AS n, sum(spread) AS spread_sum
FROM (
  SELECT event_id, any(${MINUTE_OF('scored_at')}) AS minute, max(score) - min(score) AS spread
  FROM predictions FINAL
  WHERE scored_at >= now() - ${sqlLiteral(Math.round(historySeconds))} AND model != 'ensemble' AND ${VERSION_OF_ROW} = ${sqlLiteral(version)}
  GROUP BY event_id
)
GROUP BY minute`;
}

/** Per minute and model: labelled events `version` scored as live, and their summed squared error. */
export function errorPerMinuteOfVersionSql(historySeconds: number, version: string): string {
  return `SELECT ${MINUTE_OF('scored_at')} AS minute, model, count() AS n, sum((score - label) * (score - label)) AS sse
FROM (${labelledRowsSql(`scored_at >= now() - ${sqlLiteral(Math.round(historySeconds))} AND ${VERSION_OF_ROW} = ${sqlLiteral(version)}`)})
WHERE role = 'live'
GROUP BY minute, model`;
}

/**
 * The events `version` scored in the window, each score with the event's audio features: what the
 * error estimator reads. One event in `modulo` (by a hash of its id) keeps it cheap at any rate.
 */
export function estimateRowsSql(windowSeconds: number, version: string, modulo: number): string {
  const w = Math.round(windowSeconds);
  const where =
    sql`scored_at >= now() - ${w} AND cityHash64(event_id) % ${Math.max(1, Math.round(modulo))} = 0 AND ` +
    `${VERSION_OF_ROW} = ${sqlLiteral(version)}`;
  const features = FEATURE_NAMES.map((f) => `toFloat64(${ident(f).name}) AS ${ident(f).name}`).join(', ');
  return `SELECT event_id, model, score, track_genre, ${FEATURE_NAMES.map((f) => ident(f).name).join(', ')}
FROM (SELECT event_id, model, score FROM (${scoredRowsSql(where)})) AS scored
ALL INNER JOIN (
  SELECT event_id, track_genre, ${features} FROM track_events FINAL
  WHERE ingested_at >= now() - ${sqlLiteral(w + 600)} AND cityHash64(event_id) % ${Math.max(1, Math.round(modulo))} = 0
) AS events USING event_id`;
}

/**
 * RMSE per minute, model and version: realized on the labelled rows, and estimated before labels
 * (table error_estimates, over the exporter's window ending that minute). Columns `time`, `name`
 * (`rf · VERSION realized` / `… estimated`), `rmse`.
 */
export function estimatedAndRealizedSql(timeFilter: (column: string) => string): string {
  return `SELECT time, name, rmse FROM (
  SELECT toStartOfMinute(scored_at) AS time, concat(model, ' · ', ${VERSION_OF_ROW}, if(role = 'shadow', ' (shadow)', ''), ' realized') AS name,
    sqrt(avg((score - label) * (score - label))) AS rmse
  FROM (${labelledRowsSql(timeFilter('scored_at'))})
  GROUP BY time, name
  UNION ALL
  SELECT minute AS time, concat(model, ' · ', version, if(role = 'shadow', ' (shadow)', ''), ' estimated') AS name, estimated_rmse AS rmse
  FROM error_estimates FINAL
  WHERE ${timeFilter('minute')}
)
ORDER BY time`;
}

/** The live role's stored error estimates of `version` (table error_estimates), per minute and model. */
export const storedEstimatesSql = (historySeconds: number, version: string) =>
  sql`SELECT toUnixTimestamp(minute) AS minute, model, estimated_rmse, events FROM error_estimates FINAL
WHERE version = ${version} AND role = 'live' AND minute >= now() - ${Math.round(historySeconds)}
ORDER BY minute`;

/**
 * Attribution drift: each feature's mean |SHAP| per minute in the sampled explanations of the
 * live version's `score`, divided by that score's mean |SHAP| on its training rows (table
 * attribution_references, from the set's explanations.json). 1 is the training influence; a
 * feature whose influence changes moves away from 1 even when its own distribution does not.
 * The live version's model version is a scalar subquery, not `IN (…)`: on a sharded cluster an IN
 * over one Distributed table inside a read of another is refused (distributed_product_mode).
 */
export function attributionDriftSql(score: ScoreName, timeFilter: string): string {
  return `SELECT minute AS time, name, window_abs / reference_abs AS ratio
FROM (
  SELECT toStartOfMinute(event_time) AS minute, model_version, name, avg(abs(c)) AS window_abs
  FROM explanations FINAL ARRAY JOIN features AS name, contributions AS c
  WHERE model = ${sqlLiteral(score)} AND ${timeFilter} AND model_version = (
    SELECT any(model_version) FROM drift_references FINAL
    WHERE subject = 'score' AND name = ${sqlLiteral(score)} AND version = ${LIVE_VERSION_SQL}
  )
  GROUP BY minute, model_version, name
) AS window
ALL INNER JOIN (
  SELECT model_version, feature AS name, mean_abs AS reference_abs FROM attribution_references FINAL
) AS reference USING (model_version, name)
WHERE reference_abs > 0
ORDER BY time, name`;
}
