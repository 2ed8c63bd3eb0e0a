/**
 * Streaming reader for CSV files in the Kaggle Spotify Tracks format. Rows come out a read of the
 * file at a time (the file is never held in memory), typed, with a clear error per bad row: the
 * row number (1 = first data row) and the column. Used by `train`, `predict` and `replay`.
 *
 * Parsed by papaparse. csv-parse, used before, cost the replay ~8 µs of CPU a row, and its
 * async iteration, one promise per row, another ~4: together two fifths of the replay's CPU,
 * which shares the cores with the workers it feeds (README "The replay's CSV reading").
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import Papa from 'papaparse';
import { HitstreamError } from './errors.ts';

/** Columns a file must have; the leading unnamed index column and extras are ignored. */
export const REQUIRED_COLUMNS = [
  'track_id',
  'duration_ms',
  'explicit',
  'danceability',
  'energy',
  'key',
  'loudness',
  'mode',
  'speechiness',
  'acousticness',
  'instrumentalness',
  'liveness',
  'valence',
  'tempo',
  'time_signature',
] as const;

export interface KaggleTrack {
  track_id: string;
  artists: string;
  album_name: string;
  track_name: string;
  track_genre: string;
  popularity: number | undefined;
  duration_ms: number;
  explicit: boolean;
  danceability: number;
  energy: number;
  key: number;
  loudness: number;
  mode: number;
  speechiness: number;
  acousticness: number;
  instrumentalness: number;
  liveness: number;
  valence: number;
  tempo: number;
  time_signature: number;
}

export type CsvRow =
  { ok: true; row: number; track: KaggleTrack } | { ok: false; row: number; column: string; message: string };

const NUMERIC = REQUIRED_COLUMNS.filter((c) => c !== 'track_id' && c !== 'explicit');
type NumericColumn = (typeof NUMERIC)[number];

/** Where each column sits in the file's rows (-1: absent), read from its header. */
interface ColumnIndex {
  track_id: number;
  explicit: number;
  popularity: number;
  numeric: Int32Array;
  text: Record<'artists' | 'album_name' | 'track_name' | 'track_genre', number>;
}

function columnIndex(header: string[]): ColumnIndex {
  const at = (name: string) => header.lastIndexOf(name);
  return {
    track_id: at('track_id'),
    explicit: at('explicit'),
    popularity: at('popularity'),
    numeric: Int32Array.from(NUMERIC, at),
    text: {
      artists: at('artists'),
      album_name: at('album_name'),
      track_name: at('track_name'),
      track_genre: at('track_genre'),
    },
  };
}

/** Parsed numeric columns of the current row, in NUMERIC's order (one buffer, not a row's worth of objects). */
const numbers = new Float64Array(NUMERIC.length);
const NUMERIC_AT = Object.fromEntries(NUMERIC.map((c, i) => [c, i])) as Record<NumericColumn, number>;
const numberOf = (c: NumericColumn) => numbers[NUMERIC_AT[c]]!;

/**
 * One row as a track. Rows are arrays, read by the header's positions, and the track is built as
 * one literal: the replay reads ~30,000 rows a second, and an object per row keyed by column name
 * (csv-parse's `columns: true`) plus a track grown key by key cost a fifth of its CPU.
 */
function toTrack(row: number, cells: string[], at: ColumnIndex): CsvRow {
  const cell = (i: number) => (i < 0 ? undefined : cells[i]);
  const bad = (column: string, message: string): CsvRow => ({
    ok: false,
    row,
    column,
    message: `row ${row}, column ${column}: ${message}`,
  });
  const track_id = cell(at.track_id)?.trim() ?? '';
  if (!track_id) return bad('track_id', 'is empty');
  for (let i = 0; i < NUMERIC.length; i++) {
    const raw = cell(at.numeric[i]!);
    const text = raw?.trim() ?? '';
    const n = text === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(n)) return bad(NUMERIC[i]!, `not a number: ${JSON.stringify(raw ?? '')}`);
    numbers[i] = n;
  }
  const rawExplicit = cell(at.explicit);
  const explicit = rawExplicit?.trim();
  if (explicit !== 'True' && explicit !== 'False' && explicit !== 'true' && explicit !== 'false')
    return bad('explicit', `must be True or False, got ${JSON.stringify(rawExplicit ?? '')}`);
  const pop = cell(at.popularity)?.trim();
  let popularity: number | undefined;
  if (pop !== undefined && pop !== '') {
    popularity = Number(pop);
    if (!Number.isInteger(popularity) || popularity < 0 || popularity > 100)
      return bad('popularity', `must be an integer 0..100, got ${JSON.stringify(pop)}`);
  }
  const track: KaggleTrack = {
    track_id,
    artists: cell(at.text.artists) ?? '',
    album_name: cell(at.text.album_name) ?? '',
    track_name: cell(at.text.track_name) ?? '',
    track_genre: cell(at.text.track_genre) ?? '',
    popularity,
    duration_ms: numberOf('duration_ms'),
    explicit: explicit === 'True' || explicit === 'true',
    danceability: numberOf('danceability'),
    energy: numberOf('energy'),
    key: numberOf('key'),
    loudness: numberOf('loudness'),
    mode: numberOf('mode'),
    speechiness: numberOf('speechiness'),
    acousticness: numberOf('acousticness'),
    instrumentalness: numberOf('instrumentalness'),
    liveness: numberOf('liveness'),
    valence: numberOf('valence'),
    tempo: numberOf('tempo'),
    time_signature: numberOf('time_signature'),
  };
  return { ok: true, row, track };
}

/** Fails with DATA_NOT_FOUND unless `path` is a readable file (before any other work is done). */
export async function requireDataFile(path: string): Promise<void> {
  const info = await stat(path).catch((err: unknown) => {
    throw new HitstreamError('DATA_NOT_FOUND', `cannot read ${path}`, { cause: err, field: '--data' });
  });
  if (!info.isFile())
    throw new HitstreamError('DATA_NOT_FOUND', `${path} is not a file`, { field: '--data' });
}

export interface ReadOptions {
  /** Stop after this many data rows. */
  limit?: number;
}

/** Parsed reads of a file that may wait for the reader before the file is read further. */
const READS_AHEAD = 4;

/**
 * The file's records as arrays of cells, one array of records per read of the file (64 KB):
 * a promise per read rather than per row. Quotes, delimiters in quotes and line breaks in quotes
 * as RFC 4180 says; a byte-order mark is dropped. Rows may have any number of cells. A quote
 * that does not close (or closes mid-field) throws DATA_BAD_CSV with the record's number
 * (0 = the header).
 */
async function* csvRecords(path: string): AsyncGenerator<string[][]> {
  // Decoded as a stream, so a character split across two reads stays whole.
  const input = createReadStream(path, { encoding: 'utf8' });
  const reads: string[][][] = [];
  let records = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake = () => {};
  Papa.parse<string[]>(input, {
    delimiter: ',',
    quoteChar: '"',
    skipEmptyLines: true,
    beforeFirstChunk: (text) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text),
    chunk: ({ data, errors }) => {
      const quotes = errors.find((e) => e.type === 'Quotes');
      if (quotes && !failure) {
        failure = new HitstreamError(
          'DATA_BAD_CSV',
          `${path}: not a readable CSV near data row ${records + (quotes.row ?? 0)}: ${quotes.message}`,
        );
        input.destroy();
      }
      records += data.length;
      reads.push(data);
      if (reads.length >= READS_AHEAD) input.pause();
      wake();
    },
    complete: () => {
      ended = true;
      wake();
    },
    error: (err: Error) => {
      failure ??= new HitstreamError('DATA_BAD_CSV', `${path}: cannot be read: ${err.message}`, {
        cause: err,
      });
      wake();
    },
  });
  try {
    for (;;) {
      if (failure) throw failure;
      const next = reads.shift();
      if (next) {
        if (reads.length < READS_AHEAD) input.resume();
        yield next;
      } else if (ended) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    input.destroy();
  }
}

/**
 * Every data row, typed or with its error, in arrays of a few hundred (one per read of the file).
 * Throws only when the file or header is unusable.
 */
export async function* readKaggleCsvChunks(path: string, opts: ReadOptions = {}): AsyncGenerator<CsvRow[]> {
  await requireDataFile(path);
  let row = 0;
  let at: ColumnIndex | undefined;
  for await (const records of csvRecords(path)) {
    const rows: CsvRow[] = [];
    for (const cells of records) {
      if (!at) {
        at = columnIndexOfHeader(path, cells);
        continue;
      }
      row += 1;
      rows.push(toTrack(row, cells, at));
      if (opts.limit !== undefined && row >= opts.limit) break;
    }
    if (rows.length) yield rows;
    if (opts.limit !== undefined && row >= opts.limit) return;
  }
}

/** Every data row, typed or with its error, one at a time (`readKaggleCsvChunks` is cheaper). */
export async function* readKaggleCsv(path: string, opts: ReadOptions = {}): AsyncGenerator<CsvRow> {
  for await (const rows of readKaggleCsvChunks(path, opts)) yield* rows;
}

function columnIndexOfHeader(path: string, header: string[]): ColumnIndex {
  const missing = REQUIRED_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length)
    throw new HitstreamError(
      'DATA_BAD_HEADER',
      `${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      { field: missing[0] },
    );
  return columnIndex(header);
}

/** Reads a whole (training-sized) file into memory; bad rows are returned, not thrown. */
export async function loadKaggleCsv(path: string, opts: ReadOptions = {}) {
  const tracks: KaggleTrack[] = [];
  const errors: Extract<CsvRow, { ok: false }>[] = [];
  for await (const rows of readKaggleCsvChunks(path, opts))
    for (const r of rows) {
      if (r.ok) tracks.push(r.track);
      else errors.push(r);
    }
  return { tracks, errors };
}

/**
 * Data rows in a CSV for the progress line and ETA: its line breaks less the header. A quoted field
 * holding a line break makes it count high; a guess from the file size was 10% low on the sample.
 * Reading 20 MB for this takes ~20 ms.
 */
export async function countRows(path: string): Promise<number> {
  let breaks = 0;
  let last = 0x0a;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) breaks++;
    if (chunk.length) last = chunk[chunk.length - 1]!;
  }
  // A last line without a line break is a row too.
  return Math.max(1, breaks + (last === 0x0a ? 0 : 1) - 1);
}
