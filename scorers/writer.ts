/**
 * Group commit for a worker: the rows of every batch scored while the previous write was running
 * go to ClickHouse together, one insert per table, and the offsets of the batches in that write
 * are committed after it, in order per partition.
 *
 * Why: a write per Kafka batch and partition (3 tables × 4 partitions × ~10 batches/s at 1,000
 * events/s) made ClickHouse 18.16 take 100–350 ms per insert, and waiting for it before fetching
 * again put that on every event's latency. Fewer, larger inserts are cheaper for ClickHouse, and
 * the consumer only waits for them when the rows not yet written pass `maxPendingEvents`.
 * Writes are also spaced by `minIntervalMs`: every insert makes a new part in each table (and
 * each materialized view's table) that ClickHouse later merges, and at 1,000 events/s an insert
 * per ~30 ms kept ClickHouse at 50–80% of a core on this 2-core box, which the scorers needed.
 * When the stream pauses (`quietMs` without a batch), what is in hand is written at once, at most
 * once a second: the last events of a replay were stored up to 2 s after their scores.
 *
 * An insert that ClickHouse refuses for its data (`storage_rejected`) is split in halves until
 * the refused rows are alone: those become dead letters (`rejectedRows`), the rest is stored,
 * and the offsets are committed as usual. One bad row no longer holds up every write.
 *
 * A batch's rows are encoded to UTF-8 as it is handed in, appended to its table's buffers for
 * the next write (byte-chunks.ts: two seconds of rows as strings cost the GC more than encoding
 * them did), and the buffers are reused once that write is stored.
 */
import { HitstreamError } from '../lib/errors.ts';
import { ByteChunks, ChunkPool } from '../warehouse/byte-chunks.ts';
import type { EncodedRows, RowOrigin } from '../warehouse/rows.ts';
import type { RetryOptions } from '../lib/retry.ts';
import { insertRows, type StorageTarget } from '../warehouse/sink.ts';

export interface PendingBatch {
  topic: string;
  partition: number;
  /** Offset of the batch's first message: what the next owner re-reads from if this is lost. */
  first: string;
  /** Offset of the batch's last message; the commit is `last + 1`. */
  last: string;
  events: number;
  /** Per table, the batch's rows (encoded when the batch was scored). */
  rows: Record<string, EncodedRows>;
}

/** A row ClickHouse refused on its own, with ClickHouse's reason. */
export interface RejectedRow {
  table: string;
  line: string;
  origin: RowOrigin;
  reason: string;
}

/** Events handed to the writer and not stored, per partition (for the shutdown report). */
export interface Unstored {
  topic: string;
  partition: number;
  fromOffset: string;
  events: number;
}

export interface BatchWriterOptions {
  target: StorageTarget;
  retry: RetryOptions;
  /** Commits offsets (after the batch's rows are stored). */
  commit: (offsets: { topic: string; partition: number; offset: string }[]) => Promise<void>;
  /**
   * Turns refused rows into dead letters (published, counted) and returns their rows for
   * `table`, stored before the offsets are committed.
   */
  rejectedRows?: (rejected: RejectedRow[]) => Promise<{ table: string; rows: EncodedRows }>;
  /** Called after every write with what it contained and how long the insert took. */
  onWritten?: (info: { batches: number; events: number; insertMs: number; rejected: number }) => void;
  maxPendingEvents?: number;
  /**
   * Least time from one write's start to the next one's; batches scored meanwhile wait and go
   * together. Skipped when the waiting rows reach half of `maxPendingEvents`, and by `flushed()`.
   */
  minIntervalMs?: number;
  /**
   * When no batch came for this long, the rows in hand are written without waiting out the rest
   * of `minIntervalMs`, if the last write started at least `QUIET_WRITE_FLOOR_MS` ago. 200 by default.
   */
  quietMs?: number;
  /**
   * More refused rows than this in one write means the rows and the tables do not match (a
   * schema changed under us), not a few bad rows: the write fails instead of dead-lettering all.
   */
  maxRejectedRows?: number;
}

/**
 * A stream that pauses (a replay's end, a lull) has its last rows stored after `quietMs` rather
 * than up to `minIntervalMs` later; never more than one such write a second (ClickHouse's own
 * advice for inserts), so a slow trickle of events does not become an insert per event.
 */
export const QUIET_WRITE_FLOOR_MS = 1_000;

interface Queued extends Omit<PendingBatch, 'rows'> {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One table's rows for the next write: their UTF-8 and the message each line came from. */
interface TableRows {
  rows: number;
  bytes: ByteChunks;
  origins: RowOrigin[];
}

export class BatchWriter {
  private queue: Queued[] = [];
  /** The queued batches' rows, per table, already encoded. */
  private tables = new Map<string, TableRows>();
  private readonly pool = new ChunkPool();
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private readonly maxPendingEvents: number;
  private lastWriteAt = -Infinity;
  /** When the last batch was handed in (the quiet rule counts from it). */
  private lastHandedAt = -Infinity;
  /** Ends the wait between two writes early (set while waiting). */
  private wake: (() => void) | undefined;
  /** Every batch handed in whose rows are not stored and committed (kept after a failure). */
  private readonly outstanding = new Set<Queued>();

  constructor(private readonly opts: BatchWriterOptions) {
    this.maxPendingEvents = opts.maxPendingEvents ?? 20_000;
  }

  /** Events handed in and not yet stored and committed. */
  pendingEvents = 0;

  /**
   * Queues a batch; resolves once its rows are stored and its offsets committed. Throws at once
   * if an earlier write failed: committing past a failed batch would skip its events.
   */
  write(batch: PendingBatch): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    this.pendingEvents += batch.events;
    this.lastHandedAt = performance.now();
    this.append(batch.rows);
    const done = new Promise<void>((resolve, reject) => {
      // Without its rows: their text is garbage from here on.
      const { topic, partition, first, last, events } = batch;
      const queued: Queued = { topic, partition, first, last, events, resolve, reject };
      this.queue.push(queued);
      this.outstanding.add(queued);
    });
    if (this.pendingEvents >= this.maxPendingEvents / 2) this.wake?.();
    this.running ??= this.drainLoop();
    return done;
  }

  private append(rows: PendingBatch['rows']) {
    for (const [table, encoded] of Object.entries(rows)) {
      if (!encoded.rows) continue;
      let t = this.tables.get(table);
      if (!t) this.tables.set(table, (t = { rows: 0, bytes: new ByteChunks(this.pool), origins: [] }));
      t.rows += encoded.rows;
      t.bytes.append(encoded.text);
      for (const o of encoded.origins) t.origins.push(o);
    }
  }

  /** Set for good once a write failed (a fatal error, or retries ended by shutdown). */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** True when the caller should wait for its write before fetching more. */
  get full(): boolean {
    return this.pendingEvents >= this.maxPendingEvents;
  }

  /** Per partition, the events not stored: the next owner of the partition reads them again. */
  unstored(): Unstored[] {
    const by = new Map<string, Unstored>();
    for (const b of this.outstanding) {
      const key = `${b.topic}\u0000${b.partition}`;
      const u = by.get(key);
      if (!u) by.set(key, { topic: b.topic, partition: b.partition, fromOffset: b.first, events: b.events });
      else {
        u.events += b.events;
        if (BigInt(b.first) < BigInt(u.fromOffset)) u.fromOffset = b.first;
      }
    }
    return [...by.values()];
  }

  /** Resolves when everything queued so far is written (or has failed). */
  async flushed(): Promise<void> {
    this.flushing = true;
    try {
      this.wake?.();
      while (this.running) await this.running;
    } finally {
      this.flushing = false;
    }
  }

  private flushing = false;

  private async drainLoop(): Promise<void> {
    try {
      while (this.queue.length) {
        for (let wait = this.waitBeforeWrite(); wait > 0; wait = this.waitBeforeWrite())
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, wait);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        this.wake = undefined;
        this.lastWriteAt = performance.now();
        const taken = this.queue;
        const tables = this.tables;
        this.queue = [];
        this.tables = new Map();
        await this.writeTogether(taken, tables);
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Milliseconds until the rows in hand may be written (≤ 0: now). */
  private waitBeforeWrite(): number {
    if (this.flushing || this.pendingEvents >= this.maxPendingEvents / 2) return 0;
    const now = performance.now();
    const interval = this.lastWriteAt + (this.opts.minIntervalMs ?? 0) - now;
    const quiet =
      Math.max(this.lastHandedAt + (this.opts.quietMs ?? 200), this.lastWriteAt + QUIET_WRITE_FLOOR_MS) - now;
    return Math.min(interval, quiet);
  }

  private async writeTogether(taken: Queued[], tables: Map<string, TableRows>): Promise<void> {
    const events = taken.reduce((n, b) => n + b.events, 0);
    try {
      const t0 = performance.now();
      const rejected = (await Promise.all([...tables].map(([t, rows]) => this.store(t, rows)))).flat();
      if (rejected.length && this.opts.rejectedRows) {
        const dead = await this.opts.rejectedRows(rejected);
        const refused = await this.store(dead.table, dead.rows);
        if (refused.length)
          throw new HitstreamError(
            'storage_error',
            `ClickHouse refused the dead letters of refused rows too: ${refused[0]!.reason}`,
          );
      }
      const insertMs = performance.now() - t0;
      await this.opts.commit(highestOffsets(taken));
      this.opts.onWritten?.({ batches: taken.length, events, insertMs, rejected: rejected.length });
      for (const b of taken) {
        this.outstanding.delete(b);
        b.resolve();
      }
      // Only now, and only if no insert was refused: ClickHouse answered each one after reading
      // all of it, so no socket still reads these buffers. A refused insert may have been
      // answered mid-body; its buffers are left to the GC.
      if (!rejected.length) for (const t of tables.values()) t.bytes.release();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      for (const b of [...taken, ...this.queue]) b.reject(this.failure);
      for (const b of this.queue) this.pendingEvents -= b.events;
      this.queue = [];
    } finally {
      this.pendingEvents -= events;
    }
  }

  /** Inserts a table's rows; returns the rows ClickHouse refused on their own (split to find them). */
  private async store(table: string, rows: TableRows | EncodedRows): Promise<RejectedRow[]> {
    try {
      await insertRows(
        this.opts.target,
        table,
        'text' in rows ? rows : { rows: rows.rows, bytes: rows.bytes.bytes() },
        this.opts.retry,
      );
      return [];
    } catch (err) {
      if (!isRejection(err)) throw err;
      const text = 'text' in rows ? rows.text : Buffer.concat(rows.bytes.bytes()).toString('utf8');
      const lines = text.split('\n');
      lines.pop(); // the text ends with a newline
      const budget = { left: this.opts.maxRejectedRows ?? 100 };
      return this.bisect(table, lines, rows.origins, err, budget);
    }
  }

  private async bisect(
    table: string,
    lines: string[],
    origins: readonly RowOrigin[],
    err: HitstreamError,
    budget: { left: number },
  ): Promise<RejectedRow[]> {
    if (lines.length === 1) {
      if (--budget.left < 0)
        throw new HitstreamError(
          'storage_error',
          `ClickHouse refused more than ${this.opts.maxRejectedRows ?? 100} rows of one insert into ${table}, so the rows and the table do not match: ${err.message}; run \`npx hitstream migrate\``,
          { cause: err },
        );
      return [{ table, line: lines[0]!, origin: origins[0]!, reason: err.message }];
    }
    const mid = lines.length >> 1;
    const out: RejectedRow[] = [];
    for (const [a, b] of [
      [0, mid],
      [mid, lines.length],
    ] as const) {
      const part = lines.slice(a, b);
      try {
        await insertRows(
          this.opts.target,
          table,
          { rows: part.length, text: `${part.join('\n')}\n` },
          this.opts.retry,
        );
      } catch (e) {
        if (!isRejection(e)) throw e;
        out.push(...(await this.bisect(table, part, origins.slice(a, b), e, budget)));
      }
    }
    return out;
  }
}

const isRejection = (err: unknown): err is HitstreamError =>
  err instanceof HitstreamError && err.code === 'storage_rejected';

/** Highest offset per partition (the batches of a partition arrive in order), as commits. */
function highestOffsets(batches: readonly Omit<PendingBatch, 'rows'>[]) {
  const last = new Map<string, { topic: string; partition: number; offset: bigint }>();
  for (const b of batches) {
    const key = `${b.topic}\u0000${b.partition}`;
    const offset = BigInt(b.last) + 1n;
    const seen = last.get(key);
    if (!seen || offset > seen.offset) last.set(key, { topic: b.topic, partition: b.partition, offset });
  }
  return [...last.values()].map((o) => ({
    topic: o.topic,
    partition: o.partition,
    offset: o.offset.toString(),
  }));
}
