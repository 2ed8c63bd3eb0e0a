/**
 * Live against shadow on the events that have labels (from the labels stream, or the event's own
 * `popularity` in a replay: warehouse/labels-sql.ts says which wins): per model, on exactly the events both scored in the window, n, RMSE, MAE, bias,
 * mean disagreement and p99 inference time. What `models compare` prints and `promote` gates on.
 */
import { sql } from '../lib/sql.ts';
import { withLabelsSql } from '../warehouse/labels-sql.ts';

export interface ComparisonRow {
  model: string;
  n: number;
  live_rmse: number;
  shadow_rmse: number;
  live_mae: number;
  shadow_mae: number;
  live_bias: number;
  shadow_bias: number;
  disagreement: number;
  live_p99_us: number;
  shadow_p99_us: number;
  /** Of n, the events judged by a label from the labels stream, and its mean delay after scoring. */
  labels_from_stream: number;
  mean_label_delay_s: number;
}

const LIVE_COLUMNS = ['event_id', 'track_id', 'model', 'score', 'popularity', 'inference_us', 'scored_at'];

/** The live rows of the window that have a label, with it. */
const labelledLive = (windowSeconds: number) => {
  const rows =
    `SELECT ${LIVE_COLUMNS.join(', ')} FROM predictions FINAL ` +
    sql`WHERE event_time >= now() - ${windowSeconds}`;
  // Filtered a level down: in ClickHouse a WHERE sees the SELECT's aliases, so `label` there would
  // be the non-null one below (every unlabelled row would pass, judged against 0).
  return `SELECT event_id, model, score AS live_score, toFloat64(assumeNotNull(truth)) AS label, inference_us AS live_us,
      label_source = 'stream' AS from_stream, label_delay_s
    FROM (
      SELECT event_id, model, score, label AS truth, inference_us, label_source, label_delay_s
      FROM (${withLabelsSql(rows, LIVE_COLUMNS)}) AS with_labels
      WHERE isNotNull(label)
    ) AS labelled`;
};

/** The comparison's SQL (18.16 and current: subqueries with distinct column names, USING). */
export const compareSql = (shadowVersion: string, windowSeconds: number) => `
SELECT model,
    count() AS n,
    sqrt(avg(pow(live_score - label, 2))) AS live_rmse,
    sqrt(avg(pow(shadow_score - label, 2))) AS shadow_rmse,
    avg(abs(live_score - label)) AS live_mae,
    avg(abs(shadow_score - label)) AS shadow_mae,
    avg(live_score - label) AS live_bias,
    avg(shadow_score - label) AS shadow_bias,
    avg(abs(live_score - shadow_score)) AS disagreement,
    quantile(0.99)(live_us) AS live_p99_us,
    quantile(0.99)(shadow_us) AS shadow_p99_us,
    sum(from_stream) AS labels_from_stream,
    if(sum(from_stream) > 0, sumIf(label_delay_s, from_stream = 1) / sum(from_stream), 0) AS mean_label_delay_s
FROM (
    ${labelledLive(windowSeconds)}
) AS live ALL INNER JOIN (${sql`
    SELECT event_id, model, score AS shadow_score, inference_us AS shadow_us
    FROM shadow_predictions FINAL
    WHERE set_version = ${shadowVersion} AND event_time >= now() - ${windowSeconds}`}
) AS shadow USING (event_id, model)
GROUP BY model
ORDER BY model`;

const number = (v: unknown) => Number(v);

export function parseComparison(rows: Record<string, unknown>[]): ComparisonRow[] {
  return rows.map((r) => ({
    model: String(r.model),
    n: number(r.n),
    live_rmse: number(r.live_rmse),
    shadow_rmse: number(r.shadow_rmse),
    live_mae: number(r.live_mae),
    shadow_mae: number(r.shadow_mae),
    live_bias: number(r.live_bias),
    shadow_bias: number(r.shadow_bias),
    disagreement: number(r.disagreement),
    live_p99_us: number(r.live_p99_us),
    shadow_p99_us: number(r.shadow_p99_us),
    labels_from_stream: number(r.labels_from_stream),
    mean_label_delay_s: number(r.mean_label_delay_s),
  }));
}

/** Models on which the shadow version is worse (higher RMSE) than live. Empty: not worse. */
export const worseModels = (rows: ComparisonRow[]) =>
  rows.filter((r) => r.n > 0 && r.shadow_rmse > r.live_rmse);

/** Seconds as the largest unit that reads well: 45 s, 12 min, 3.5 h, 2.1 d. */
export const delay = (s: number) =>
  s < 120
    ? `${Math.round(s)} s`
    : s < 7200
      ? `${Math.round(s / 60)} min`
      : s < 172800
        ? `${(s / 3600).toFixed(1)} h`
        : `${(s / 86400).toFixed(1)} d`;

/** The table for a terminal. */
export function comparisonTable(rows: ComparisonRow[], live: string, shadow: string): string {
  const f = (v: number, d = 2) => v.toFixed(d);
  const head = `live ${live} vs shadow ${shadow}, on labelled events both scored`;
  const cols = [
    'model',
    'n',
    'RMSE live',
    'RMSE shadow',
    'MAE live',
    'MAE shadow',
    'bias live',
    'bias shadow',
    'disagree',
    'p99 µs live',
    'p99 µs shadow',
    'by stream',
    'label delay',
  ];
  const lines = rows.map((r) => [
    r.model,
    String(r.n),
    f(r.live_rmse),
    f(r.shadow_rmse),
    f(r.live_mae),
    f(r.shadow_mae),
    f(r.live_bias),
    f(r.shadow_bias),
    f(r.disagreement),
    f(r.live_p99_us, 0),
    f(r.shadow_p99_us, 0),
    String(r.labels_from_stream),
    r.labels_from_stream ? delay(r.mean_label_delay_s) : '–',
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [head, row(cols), ...lines.map(row)].join('\n');
}
