/**
 * One partition batch through the worker's stages: decode → score and publish (with the other
 * partitions' batches in hand) → write, then commit (in the background) → wait while too much is
 * unstored (the client heart-beats on a timer of its own, so the wait does not cost the partitions). A batch that cannot be handled ends the worker (`fail`); it is
 * re-read after a restart, since nothing of it was committed.
 */
import type { ConsumedBatch } from '../lib/kafka-consumer.ts';
import type { Logger } from '../lib/logger.ts';
import { decodeBatch } from './decode.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ScoreRequest, ScoreResult } from './scoring.ts';
import { batchRows } from './write.ts';
import type { BatchWriter } from './writer.ts';

export interface BatchStages {
  score: (request: ScoreRequest) => Promise<ScoreResult>;
  writer: BatchWriter;
  metrics: WorkerMetrics;
  log: Logger;
  /** Whether batches are still taken (false while stopping or after a fatal error). */
  accepting: () => boolean;
  /** Ends the worker for good with this cause. */
  fail: (err: unknown, what: string) => void;
  /** True once the shutdown deadline passed: errors then are the deadline's, not the batch's. */
  aborted: () => boolean;
}

export function createBatchHandler(stages: BatchStages) {
  const { score, writer, metrics, log } = stages;
  /** Batch handlers running now (stop waits for them). */
  let active = 0;

  async function run(batch: ConsumedBatch): Promise<void> {
    if (!stages.accepting() || !batch.messages.length) return;
    const t0 = performance.now();
    const receivedAt = Date.now();
    const { valid, dead } = decodeBatch(batch, new Date());
    metrics.eventsIn.inc(batch.messages.length);
    metrics.batchSize.observe(batch.messages.length);
    const decodeMs = performance.now() - t0;

    const scored = await score({ valid, dead });
    const scoredAfterMs = Math.round((performance.now() - t0) * 10) / 10;
    const last = batch.messages[batch.messages.length - 1]!.offset;
    const stored = writer.write({
      topic: batch.topic,
      partition: batch.partition,
      first: batch.messages[0]!.offset,
      last,
      events: batch.messages.length,
      rows: batchRows(valid, dead, scored),
    });
    // Handled here, so a failed write is never an unhandled rejection. A write fails only for
    // good (fatal error, or shutdown's deadline): nothing after it is committed.
    stored.then(
      () => {
        for (const m of scored.pred.names) metrics.predictionsOut.inc({ model: m }, valid.length);
        for (const d of dead) metrics.deadLetters.inc({ reason: d.error_code });
      },
      (err: unknown) => stages.fail(err, 'writing to ClickHouse'),
    );
    if (dead.length)
      log.warn(
        {
          count: dead.length,
          reasons: [...new Set(dead.map((d) => `${d.field || 'message'}: ${d.error_code}`))],
        },
        'dead-lettered events',
      );
    // Where a batch's time goes (LOG_LEVEL=debug): what the latency work was profiled with.
    log.debug(
      {
        partition: batch.partition,
        offsets: `${batch.messages[0]!.offset}..${last}`,
        events: batch.messages.length,
        decodeMs: Math.round(decodeMs * 10) / 10,
        // From this batch's start to its scores: decoding, waiting for its run, the run.
        scoredAfterMs,
        run: scored.run,
        // From the first event's time to this batch's start (time in the replay, Kafka and the
        // consumer), and to its predictions' acknowledgement (plus the worker's own time).
        receivedEventAgeMs: valid.length ? receivedAt - Date.parse(valid[0]!.event.event_time) : undefined,
        publishedEventAgeMs: valid.length
          ? scored.publishedAt - Date.parse(valid[0]!.event.event_time)
          : undefined,
        pendingEvents: writer.pendingEvents,
      },
      'batch scored',
    );
    if (writer.full) await stored.catch(() => undefined); // a failure is reported through `fail`
  }

  return {
    /** One partition's batch; never throws: a batch that cannot be handled ends the worker. */
    async handle(batch: ConsumedBatch): Promise<void> {
      active++;
      try {
        await run(batch);
      } catch (err) {
        if (!stages.aborted()) stages.fail(err, `partition ${batch.partition}`);
      } finally {
        active--;
      }
    },
    /** Resolves when no batch is being handled. */
    async idle(): Promise<void> {
      while (active > 0) await new Promise((r) => setTimeout(r, 20));
    },
  };
}
