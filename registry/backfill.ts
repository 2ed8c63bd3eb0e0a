/**
 * Backfill: scores the events already stored with a registry version, as shadow rows, so that a
 * candidate is judged on exactly the events the live model saw before it sees live traffic.
 *
 * Reads `track_events` (FINAL), not the tracks topic: those are exactly the events the live
 * pipeline accepted and stored, once each (a re-delivered or double-sent message is one row), with
 * their labels; dead letters are not in it; Kafka's retention may have dropped older segments; and
 * reading ClickHouse cannot disturb the live consumer group (no Kafka client is involved at all).
 * Pages are read by (event_time, event_id) keyset, scored in one call per model, inserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { Config } from '../lib/config.ts';
import { sql } from '../lib/sql.ts';
import { FEATURE_NAMES, type TrackFeatures } from '../schemas/index.ts';
import type { Logger } from '../lib/logger.ts';
import { encodeRows, shadowPredictionRows } from '../warehouse/rows.ts';
import { insertRows } from '../warehouse/sink.ts';
import { loadModels } from '../models/model-set.ts';
import { createModelStore } from './store.ts';

export interface BackfillProgress {
  done: number;
  total: number;
  eventsPerSecond: number;
}

interface StoredEvent {
  event_id: string;
  track_id: string;
  track_genre: string;
  popularity: number | null;
  t: number | string;
  [feature: string]: unknown;
}

const COLUMNS = [
  'event_id',
  'track_id',
  'track_genre',
  'popularity',
  'toUInt32(event_time) AS t',
  ...FEATURE_NAMES,
].join(', ');

/** One page of stored events after `after` (keyset), as rendered SQL pieces joined together. */
const pageSql = (from: number, to: number, after: { t: number; id: string } | undefined, limit: number) =>
  `SELECT ${COLUMNS} FROM track_events FINAL WHERE ` +
  sql`event_time >= toDateTime(${from}) AND event_time < toDateTime(${to})` +
  (after
    ? sql` AND (event_time > toDateTime(${after.t}) OR (event_time = toDateTime(${after.t}) AND event_id > ${after.id}))`
    : '') +
  sql` ORDER BY event_time, event_id LIMIT ${limit}`;

/** Scores the stored events with `event_time` in [from, to) with `version`, into shadow_predictions. */
export async function backfill(
  cfg: Config,
  log: Logger,
  opts: {
    version: string;
    from: Date;
    to: Date;
    pageSize?: number;
    onProgress?: (p: BackfillProgress) => void;
  },
) {
  const ch = createClickhouse(cfg, { timeoutMs: 300_000 });
  const dir = await mkdtemp(join(tmpdir(), 'hitstream-backfill-'));
  try {
    const models = await loadModels(await createModelStore(ch).download(opts.version, dir), {
      rfPredictor: cfg.rfPredictor,
    });
    const from = Math.floor(opts.from.getTime() / 1000);
    const to = Math.ceil(opts.to.getTime() / 1000);
    const [count] = await (
      await ch.query({
        query: sql`SELECT count() AS n FROM track_events FINAL WHERE event_time >= toDateTime(${from}) AND event_time < toDateTime(${to})`,
        format: 'JSONEachRow',
      })
    ).json<{ n: string }>();
    const total = Number(count?.n ?? 0);
    const t0 = performance.now();
    let done = 0;
    let after: { t: number; id: string } | undefined;
    for (;;) {
      const page = await (
        await ch.query({ query: pageSql(from, to, after, opts.pageSize ?? 5000), format: 'JSONEachRow' })
      ).json<StoredEvent>();
      if (!page.length) break;
      const scored = page.map((r) => ({
        eventId: r.event_id,
        event: {
          ...Object.fromEntries(
            FEATURE_NAMES.map((f) => [f, f === 'explicit' ? Number(r[f]) === 1 : Number(r[f])]),
          ),
          track_id: r.track_id,
          ...(r.track_genre ? { track_genre: r.track_genre } : {}),
          ...(r.popularity !== null ? { popularity: Number(r.popularity) } : {}),
          event_time: new Date(Number(r.t) * 1000).toISOString(),
          source: 'replay',
        } as TrackFeatures,
        origin: { topic: 'backfill', partition: 0, offset: '0' },
      }));
      const pred = await models.predictBatch(scored.map((s) => s.event));
      const rows = shadowPredictionRows(scored, pred, opts.version, models.versions, new Date());
      await insertRows(
        { client: ch, url: cfg.clickhouseUrl, database: cfg.clickhouseDatabase },
        'shadow_predictions',
        encodeRows(rows, []),
        { log },
      );
      done += page.length;
      const last = page[page.length - 1]!;
      after = { t: Number(last.t), id: last.event_id };
      opts.onProgress?.({ done, total, eventsPerSecond: done / ((performance.now() - t0) / 1000) });
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      version: opts.version,
      events: done,
      rows: done * models.scoreNames.length,
      seconds,
      eventsPerSecond: seconds ? done / seconds : 0,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await ch.close();
  }
}
