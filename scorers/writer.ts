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
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { EncodedRows } from './rows.ts';
import { insertRows, type RetryOptions } from './sink.ts';

export interface PendingBatch {
  topic: string;
  partition: number;
  /** Offset of the batch's last message; the commit is `last + 1`. */
  last: string;
  events: number;
  /** Per table, the batch's rows (encoded when the batch was scored). */
  rows: Record<string, EncodedRows>;
}

export interface BatchWriterOptions {
  clickhouse: ClickHouseClient;
  retry: RetryOptions;
  /** Commits offsets (after the batch's rows are stored). */
  commit: (offsets: { topic: string; partition: number; offset: string }[]) => Promise<void>;
  /** Called after every write with what it contained and how long the insert took. */
  onWritten?: (info: { batches: number; events: number; insertMs: number }) => void;
  maxPendingEvents?: number;
  /**
   * Least time from one write's start to the next one's; batches scored meanwhile wait and go
   * together. Skipped when the waiting rows reach half of `maxPendingEvents`, and by `flushed()`.
   */
  minIntervalMs?: number;
}

interface Queued extends PendingBatch {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class BatchWriter {
  private queue: Queued[] = [];
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private readonly maxPendingEvents: number;
  private lastWriteAt = -Infinity;
  /** Ends the wait between two writes early (set while waiting). */
  private wake: (() => void) | undefined;

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
    const done = new Promise<void>((resolve, reject) => this.queue.push({ ...batch, resolve, reject }));
    if (this.pendingEvents >= this.maxPendingEvents / 2) this.wake?.();
    this.running ??= this.drainLoop();
    return done;
  }

  /** Set for good once a write failed (the sink retries until shutdown, so only then in practice). */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** True when the caller should wait for its write before fetching more. */
  get full(): boolean {
    return this.pendingEvents >= this.maxPendingEvents;
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
        const wait = this.lastWriteAt + (this.opts.minIntervalMs ?? 0) - performance.now();
        if (wait > 0 && !this.flushing && this.pendingEvents < this.maxPendingEvents / 2)
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
        this.queue = [];
        await this.writeTogether(taken);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async writeTogether(taken: Queued[]): Promise<void> {
    const events = taken.reduce((n, b) => n + b.events, 0);
    try {
      const t0 = performance.now();
      const tables = new Map<string, { rows: number; parts: string[] }>();
      for (const b of taken)
        for (const [table, rows] of Object.entries(b.rows)) {
          const all = tables.get(table) ?? { rows: 0, parts: [] };
          all.rows += rows.rows;
          all.parts.push(rows.text);
          tables.set(table, all);
        }
      await Promise.all(
        [...tables].map(([table, { rows, parts }]) =>
          insertRows(this.opts.clickhouse, table, { rows, text: parts.join('') }, this.opts.retry),
        ),
      );
      const insertMs = performance.now() - t0;
      // Highest offset per partition: the batches of a partition arrive in order.
      const last = new Map<string, { topic: string; partition: number; offset: bigint }>();
      for (const b of taken) {
        const key = `${b.topic}\u0000${b.partition}`;
        const offset = BigInt(b.last) + 1n;
        const seen = last.get(key);
        if (!seen || offset > seen.offset) last.set(key, { topic: b.topic, partition: b.partition, offset });
      }
      await this.opts.commit(
        [...last.values()].map((o) => ({
          topic: o.topic,
          partition: o.partition,
          offset: o.offset.toString(),
        })),
      );
      this.opts.onWritten?.({ batches: taken.length, events, insertMs });
      for (const b of taken) b.resolve();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      for (const b of [...taken, ...this.queue]) b.reject(this.failure);
      for (const b of this.queue) this.pendingEvents -= b.events;
      this.queue = [];
    } finally {
      this.pendingEvents -= events;
    }
  }
}
