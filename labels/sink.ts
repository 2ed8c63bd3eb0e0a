/**
 * The label sink: consumes the labels topic in a consumer group of its own and stores each label
 * in `labels` with its arrival time; a message that is not a label is dead-lettered with the
 * reason (the dead-letters topic and table, like a bad event). Offsets are committed after the
 * rows are stored, so a crash re-reads labels, which the table keeps once.
 *
 * Its own process (`npx hitstream label-sink`, started by `up`), not a second consumer in the
 * scorer workers: a flood of labels then takes none of the workers' event loop, and labels go on
 * landing while the workers restart or swap models.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import type { HitstreamError } from '../lib/errors.ts';
import { type ConsumedBatch, createGroupConsumer } from '../lib/kafka-consumer.ts';
import { classifyKafkaError } from '../lib/kafka-errors.ts';
import { createProducer } from '../lib/kafka-producer.ts';
import type { Logger } from '../lib/logger.ts';
import { withRetry } from '../lib/retry.ts';
import { type DeadLetter, deadLetterFor } from '../schemas/dead-letter.ts';
import { decodeLabelMessage, type Label } from '../schemas/label.ts';
import { deadLetterOrigin, deadLetterRow, encodeRows, labelRow } from '../warehouse/rows.ts';
import { insertRows } from '../warehouse/sink.ts';

/**
 * At most two inserts a second per table: a flood of per-batch inserts cost ClickHouse ~10x the
 * CPU per label, and 2 s (the workers' interval) held each partition's next fetch back so long
 * that a burst was stored at 15k labels/s (bench labels).
 */
const WRITE_INTERVAL_MS = 500;

/** The consumer group of the label sinks: the scorers' group name with `-labels`. */
export const labelGroupOf = (cfg: Config) => `${cfg.consumerGroup}-labels`;

/** A batch of the labels topic as labels and dead letters. Pure. */
export function decodeLabels(batch: ConsumedBatch, now: Date) {
  const labels: Label[] = [];
  const dead: DeadLetter[] = [];
  for (const m of batch.messages) {
    const d = decodeLabelMessage(m.value);
    if (d.ok) labels.push(d.label);
    else dead.push(deadLetterFor(d, m, batch.topic, batch.partition, now));
  }
  return { labels, dead };
}

export function createLabelSink(cfg: Config, deps: { log: Logger; clickhouse?: ClickHouseClient }) {
  const { log } = deps;
  let stopping = false;
  let reportFatal: (err: HitstreamError) => void = () => undefined;
  const fatal = new Promise<HitstreamError>((resolve) => (reportFatal = resolve));
  const consumer = createGroupConsumer(cfg, {
    clientId: `hitstream-label-sink-${process.pid}`,
    groupId: labelGroupOf(cfg),
    topics: [cfg.topicLabels],
    fromBeginning: true,
    onBatches: async (batches) => {
      await Promise.all(batches.map(handleBatch));
    },
    onFatal: (err) => reportFatal(err),
    stopped: () => stopping,
    log,
  });
  // Connects on its first send.
  const producer = createProducer(cfg, `hitstream-label-sink-${process.pid}`);
  const ch = deps.clickhouse ?? createClickhouse(cfg);
  const target = { client: ch, url: cfg.clickhouseUrl, database: cfg.clickhouseDatabase };
  const shutdown = new AbortController();
  const retry = { log, signal: shutdown.signal, meanwhile: 'offsets are not committed until it succeeds' };
  let stored = 0;
  const writes = coalescedWrites(WRITE_INTERVAL_MS, async (labelRows, deadRows) => {
    await insertRows(target, 'labels', labelRows, retry);
    await insertRows(target, 'dead_letters', deadRows, retry);
  });

  async function handleBatch(batch: ConsumedBatch) {
    if (!batch.messages.length) return;
    const now = new Date();
    const { labels, dead } = decodeLabels(batch, now);
    if (dead.length) {
      await withRetry(
        'publish dead letters',
        () =>
          producer.send(
            cfg.topicDeadLetters,
            dead.map((d) => ({ key: d.key ?? null, value: JSON.stringify(d) })),
          ),
        retry,
        (err) => classifyKafkaError(err, 'publish dead letters'),
      );
      log.warn(
        {
          count: dead.length,
          reasons: [...new Set(dead.map((d) => `${d.field || 'message'}: ${d.error_code}`))],
        },
        'dead-lettered labels',
      );
    }
    // Stored with the other batches in hand, one insert per table every WRITE_INTERVAL_MS at most.
    await writes.add(
      encodeRows(
        labels.map((l) => labelRow(l, now)),
        [],
      ),
      encodeRows(dead.map(deadLetterRow), dead.map(deadLetterOrigin)),
    );
    const last = batch.messages[batch.messages.length - 1]!.offset;
    await consumer
      .commit([{ topic: batch.topic, partition: batch.partition, offset: String(BigInt(last) + 1n) }])
      .catch((err: unknown) =>
        // The partition moved, or the coordinator did: the next reader re-reads these labels,
        // which the table keeps once.
        log.warn(
          { err, partition: batch.partition },
          'labels stored, their commit refused; they may be read again',
        ),
      );
    stored += labels.length;
    log.debug({ partition: batch.partition, labels: labels.length, dead: dead.length }, 'labels stored');
  }

  return {
    /** Labels stored since start. */
    stored: () => stored,
    /** Resolves with the error that ended the sink for good (a batch it could not store). */
    fatal,
    async start() {
      await consumer.start();
    },
    async stop() {
      stopping = true;
      // A batch being stored finishes (its commit included) before the consumer leaves the group;
      // past the deadline its retries give up, uncommitted, and the next sink reads it again.
      const timer = setTimeout(() => shutdown.abort(), Math.max(0, cfg.shutdownTimeoutMs - 3_000));
      consumer.pause();
      await consumer.idle();
      clearTimeout(timer);
      shutdown.abort();
      await consumer.close();
      await producer.close().catch(() => undefined);
      await ch.close().catch(() => undefined);
    },
  };
}

type Rows = ReturnType<typeof encodeRows>;

const joinRows = (all: readonly Rows[]): Rows => ({
  rows: all.reduce((n, r) => n + r.rows, 0),
  text: all.map((r) => r.text).join(''),
  origins: all.flatMap((r) => r.origins),
});

/**
 * Rows of the batches handled meanwhile, written together at most once every `intervalMs`; each
 * `add` resolves when its rows are stored (or rejects with the write's error), so its batch can
 * then commit.
 */
export function coalescedWrites(intervalMs: number, write: (labels: Rows, dead: Rows) => Promise<void>) {
  let pending: { labels: Rows; dead: Rows; done: (err?: Error) => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let last = 0;
  const flush = async () => {
    timer = undefined;
    const taken = pending;
    pending = [];
    last = Date.now();
    try {
      await write(joinRows(taken.map((p) => p.labels)), joinRows(taken.map((p) => p.dead)));
      taken.forEach((p) => p.done());
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      taken.forEach((p) => p.done(error));
    }
  };
  return {
    add(labels: Rows, dead: Rows): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ labels, dead, done: (err) => (err ? reject(err) : resolve()) });
        timer ??= setTimeout(() => void flush(), Math.max(0, last + intervalMs - Date.now()));
      });
    },
  };
}
