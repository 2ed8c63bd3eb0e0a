/**
 * The feed's explanations: the workers store the explanations of a sample of events in ClickHouse
 * (scorers/explain.ts); while a client has asked for them, this reads the new ones every 2 s and
 * hands them to the hub, one message per event with each score's values. They arrive a few
 * seconds after the event's prediction: the workers explain off their scoring path.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { describeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { sql } from '../../lib/sql.ts';
import { type FeedExplanation, RecentIds } from './hub.ts';

const POLL_MS = 2_000;
/** Explanations written this long ago are still read (a worker writes them every 2 s). */
const LOOKBACK_S = 30;

export const recentExplanationsSql = (sinceEpochSeconds: number) => sql`
SELECT event_id, track_id, track_genre, model, model_version, base, output, features, contributions
FROM explanations
WHERE explained_at >= toDateTime(${sinceEpochSeconds})
ORDER BY explained_at, event_id, model`;

interface Row {
  event_id: string;
  track_id: string;
  track_genre: string;
  model: string;
  model_version: string;
  base: number;
  output: number;
  features: string[];
  contributions: number[];
}

/** Rows of one or more events → one message per event, each score's values named by feature. */
export function explanationMessages(rows: readonly Row[]): FeedExplanation[] {
  const byEvent = new Map<string, FeedExplanation>();
  for (const r of rows) {
    let e = byEvent.get(r.event_id);
    if (!e)
      byEvent.set(
        r.event_id,
        (e = { event_id: r.event_id, track_id: r.track_id, track_genre: r.track_genre, scores: {} }),
      );
    e.scores[r.model] = {
      model_version: r.model_version,
      base: Number(r.base),
      output: Number(r.output),
      contributions: Object.fromEntries(r.features.map((f, j) => [f, Number(r.contributions[j])])),
    };
  }
  return [...byEvent.values()];
}

export function startExplanationsSource(deps: {
  clickhouse: ClickHouseClient;
  log: Logger;
  wanted: () => boolean;
  publish: (explained: FeedExplanation[]) => void;
}): { stop(): void } {
  const seen = new RecentIds(50_000);
  // Only what is explained from now on: a client that subscribes gets the next ones.
  const startedAt = Math.floor(Date.now() / 1000);
  let busy = false;
  const poll = async () => {
    if (busy || !deps.wanted()) return;
    busy = true;
    try {
      const since = Math.max(startedAt, Math.floor(Date.now() / 1000) - LOOKBACK_S);
      const rs = await deps.clickhouse.query({ query: recentExplanationsSql(since), format: 'JSONEachRow' });
      const fresh = (await rs.json<Row>()).filter((r) =>
        seen.add(`${r.event_id}|${r.model_version}|${r.model}`),
      );
      if (fresh.length) deps.publish(explanationMessages(fresh));
    } catch (err) {
      deps.log.warn({ err: describeError(err) }, 'explanations for the feed not read');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), POLL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
