/**
 * Where `train` reads its rows: a Kaggle-format CSV, or the labelled `track_events` the pipeline
 * stored in ClickHouse (`--from clickhouse [--since 30d]`). Both go through `trainingRows`, so the
 * same tracks give the same training matrix from either.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { classifyClickhouseError } from '../lib/clickhouse-errors.ts';
import { HitstreamError } from '../lib/errors.ts';
import { type KaggleTrack, loadKaggleCsv } from '../lib/kaggle-csv.ts';
import { sql } from '../lib/sql.ts';
import { FEATURE_NAMES } from '../schemas/track-features.ts';
import { withLabelsSql } from '../warehouse/labels-sql.ts';
import { type TrainingRow, trainingRows } from './rows.ts';

export type TrainingSource =
  | { kind: 'csv'; path: string }
  /**
   * The stored events with a label, from the labels stream or their own: only labels (and events)
   * that had arrived by `labelsBefore` (the run's start by default), so a run can be read again.
   */
  | { kind: 'clickhouse'; cfg: Config; since?: string; labelsBefore?: Date }
  /** Rows already made canonical, one JSON object per line: how a child process gets them. */
  | { kind: 'jsonl'; path: string };

export interface TrainingData {
  rows: TrainingRow[];
  /** For the report: the file, or `clickhouse <url> <database>.track_events …`. */
  description: string;
  /** Of the file, or of the rows read from ClickHouse: what manifests and versions carry. */
  sha256: string;
  /** Rows read, before dropping any. */
  readRows: number;
  /** Unreadable, incomplete or unlabelled rows. */
  droppedRows: number;
  /** Older copies of a (track_id, track_genre) another row replaced. */
  duplicateRows: number;
  /** The first few unreadable rows, to log. */
  problems: string[];
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `30d`, `12h`, `90m`, `45s` → seconds; anything else names the option. */
export function parseSince(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0)
    throw new HitstreamError(
      'CLI_BAD_OPTION',
      `--since: expected a duration like 30d, 12h, 90m or 45s, got ${JSON.stringify(text)}`,
      { field: '--since' },
    );
  return seconds;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const sha256Rows = (rows: TrainingRow[]) =>
  createHash('sha256')
    .update(rows.map((r) => JSON.stringify(r)).join('\n'))
    .digest('hex');

export async function loadTrainingData(source: TrainingSource): Promise<TrainingData> {
  if (source.kind === 'csv') {
    const { tracks, errors } = await loadKaggleCsv(source.path);
    const t = trainingRows(tracks);
    return {
      rows: t.rows,
      description: source.path,
      sha256: await sha256File(source.path),
      readRows: tracks.length + errors.length,
      droppedRows: errors.length + t.incomplete,
      duplicateRows: t.duplicates,
      problems: errors.map((e) => e.message),
    };
  }
  if (source.kind === 'jsonl') {
    const text = await readFile(source.path, 'utf8');
    const rows = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TrainingRow);
    const t = trainingRows(rows);
    return {
      rows: t.rows,
      description: source.path,
      sha256: sha256Rows(t.rows),
      readRows: rows.length,
      droppedRows: t.incomplete,
      duplicateRows: t.duplicates,
      problems: [],
    };
  }
  const before = source.labelsBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const tracks = await readStoredTracks(source.cfg, source.since, before);
  const t = trainingRows(tracks);
  const { cfg } = source;
  return {
    rows: t.rows,
    description: `clickhouse ${cfg.clickhouseUrl} ${cfg.clickhouseDatabase}.track_events, labelled${source.since ? `, last ${source.since}` : ''}, labels arrived by ${before.toISOString()} (--labels-before)`,
    sha256: sha256Rows(t.rows),
    readRows: tracks.length,
    droppedRows: t.incomplete,
    duplicateRows: t.duplicates,
    problems: [],
  };
}

interface StoredTrack extends Omit<KaggleTrack, 'explicit'> {
  explicit: number;
}

const STORED_COLUMNS = [
  'event_id',
  'track_id',
  'artists',
  'album_name',
  'track_name',
  'track_genre',
  'popularity',
  ...FEATURE_NAMES,
  'event_time',
  'ingested_at',
  'scored_at',
];

/**
 * The labelled events (FINAL: each event once) that had arrived by `before`, each with its label
 * as of then (warehouse/labels-sql.ts: the labels stream's, else the event's own), oldest first,
 * so the latest label of a track and genre wins. `since` counts back from `before`.
 */
export function storedTracksSql(since: string | undefined, before: Date): string {
  const t = Math.floor(before.getTime() / 1000);
  const window = since ? sql` AND event_time >= toDateTime(${t}) - ${parseSince(since)}` : '';
  const events = `SELECT ${STORED_COLUMNS.filter((c) => c !== 'scored_at').join(', ')}, ingested_at AS scored_at
FROM track_events FINAL
WHERE ingested_at <= toDateTime(${t})${window}`;
  return `SELECT ${STORED_COLUMNS.filter((c) => !['popularity', 'scored_at', 'ingested_at', 'event_time', 'event_id'].includes(c)).join(', ')}, label AS popularity
FROM (${withLabelsSql(events, STORED_COLUMNS, t)}) AS labelled
WHERE isNotNull(label)
ORDER BY event_time, ingested_at, event_id`;
}

async function readStoredTracks(
  cfg: Config,
  since: string | undefined,
  before: Date,
): Promise<KaggleTrack[]> {
  const query = storedTracksSql(since, before);
  const ch = createClickhouse(cfg, { timeoutMs: 600_000 });
  try {
    const rs = await ch.query({ query, format: 'JSONEachRow' });
    const rows = await rs.json<StoredTrack>();
    return rows.map((r) => ({
      ...r,
      explicit: Number(r.explicit) === 1,
      // Numbers either way: 18.16 quotes no 32-bit value, a current server none at all.
      popularity: Number(r.popularity),
      duration_ms: Number(r.duration_ms),
    }));
  } catch (err) {
    throw classifyClickhouseError(err, {
      what: 'read the labelled events to train on',
      url: cfg.clickhouseUrl,
      database: cfg.clickhouseDatabase,
    });
  } finally {
    await ch.close();
  }
}
