/**
 * One partition batch through the worker's stages: decode → score and publish (with the other
 * partitions' batches in hand) → resolve the offsets → write, then commit (in the background) →
 * wait while too much is unstored. A batch that cannot be handled ends the worker (`fail`); it is
 * re-read after a restart, since nothing of it was committed.
 */
import type { EachBatchPayload } from 'kafkajs';
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

  async function handle(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!stages.accepting() || !batch.messages.length || !payload.isRunning() || payload.isStale()) return;
    // A failed heartbeat (the coordinator just died, the group is rebalancing) must not end the
    // worker: kafkajs finds the new coordinator or rejoins on its next request. Only logged.
    const heartbeat = () =>
      payload
        .heartbeat()
        .catch((err: unknown) =>
          log.debug({ err, partition: batch.partition }, 'heartbeat failed; kafkajs recovers'),
        );
    const t0 = performance.now();
    const { valid, dead } = decodeBatch(batch, new Date());
    metrics.eventsIn.inc(batch.messages.length);
    metrics.batchSize.observe(batch.messages.length);
    const decodeMs = performance.now() - t0;

    const scored = await score({ valid, dead, heartbeat });
    const last = batch.messages[batch.messages.length - 1]!.offset;
    metrics.lag.set(
      { partition: String(batch.partition) },
      Math.max(0, Number(batch.highWatermark) - Number(last) - 1),
    );
    // Resolve now: kafkajs fetches the partition's next batch from the last *resolved* offset,
    // while the commit waits for the write.
    payload.resolveOffset(last);
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
        events: batch.messages.length,
        decodeMs: Math.round(decodeMs * 10) / 10,
        run: scored.run,
        publishedEventAgeMs: valid.length
          ? scored.publishedAt - Date.parse(valid[0]!.event.event_time)
          : undefined,
        pendingEvents: writer.pendingEvents,
      },
      'batch scored',
    );
    if (writer.full) await waitForWrite(stored, heartbeat);
    await heartbeat();
  }

  return {
    /** kafkajs' eachBatch: never throws to kafkajs, which would retry the batch and then crash, in a loop. */
    async eachBatch(payload: EachBatchPayload): Promise<void> {
      active++;
      try {
        await handle(payload);
      } catch (err) {
        if (!stages.aborted()) stages.fail(err, `partition ${payload.batch.partition}`);
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

/**
 * Backpressure: with too many events not yet stored (ClickHouse slow or down), wait for this
 * batch's write, heart-beating so the group does not take the partitions away meanwhile.
 */
async function waitForWrite(stored: Promise<unknown>, heartbeat: () => Promise<void>): Promise<void> {
  const settled = stored.then(
    () => true,
    () => true,
  );
  while (!(await Promise.race([settled, new Promise<false>((r) => setTimeout(() => r(false), 1000))])))
    await heartbeat();
  await stored.catch(() => undefined); // reported through `fail`
}
