/**
 * Which label judges a stored prediction. Labels arrive on their own stream (table `labels`), or
 * travel inside the event (a replay of the Kaggle file: `popularity` on the row). When both exist
 * the labels table wins, being the later observation; among its labels one naming the event wins
 * over one naming the track, and the latest label_time wins among those. Written for ClickHouse
 * 18.16 and current: one JOIN per SELECT (18.16 has no multiple joins), columns named (its `*`
 * over a join is the left side only), and a 0/1 flag for "matched" (its joins fill defaults,
 * not NULLs).
 */
import { sqlLiteral } from '../lib/sql.ts';

/** Labels arrived by `before` (unix seconds; all when absent), the latest per event or per track. */
function latestLabelsSql(by: 'event_id' | 'track_id', before?: number): string {
  const p = by === 'event_id' ? 'event' : 'track';
  const scope = by === 'event_id' ? "event_id != ''" : "event_id = ''";
  const arrived =
    before === undefined ? '' : ` AND arrived_at <= toDateTime(${sqlLiteral(Math.floor(before))})`;
  return `SELECT ${by}, argMax(popularity, label_time) AS ${p}_label, argMax(arrived_at, label_time) AS ${p}_arrived, 1 AS ${p}_labelled
  FROM labels FINAL WHERE ${scope}${arrived} GROUP BY ${by}`;
}

/**
 * `rowsSql`'s rows (which must have `event_id`, `track_id`, `popularity` and `scored_at` among
 * `columns`) with their effective `label` (NULL when none), `label_source` ('stream', 'event' or
 * '') and `label_delay_s` (from scoring to the label's arrival; 0 for an event's own label).
 */
export function withLabelsSql(rowsSql: string, columns: readonly string[], before?: number): string {
  const cols = columns.join(', ');
  const byEvent = `SELECT ${cols}, event_label, event_arrived, event_labelled FROM (${rowsSql}) AS scored
  ANY LEFT JOIN (${latestLabelsSql('event_id', before)}) AS event_labels USING event_id`;
  const byTrack = `SELECT ${cols}, event_label, event_arrived, event_labelled, track_label, track_arrived, track_labelled FROM (${byEvent}) AS with_event_labels
  ANY LEFT JOIN (${latestLabelsSql('track_id', before)}) AS track_labels USING track_id`;
  return `SELECT ${cols},
  if(event_labelled = 1, toNullable(event_label), if(track_labelled = 1, toNullable(track_label), popularity)) AS label,
  if(event_labelled = 1 OR track_labelled = 1, 'stream', if(isNull(popularity), '', 'event')) AS label_source,
  if(event_labelled = 1, toInt64(event_arrived) - toInt64(scored_at), if(track_labelled = 1, toInt64(track_arrived) - toInt64(scored_at), 0)) AS label_delay_s
FROM (${byTrack}) AS with_labels`;
}
