/**
 * The scorer worker: consumes the tracks topic in a consumer group, batch by batch:
 *   decode + validate → score with all four models (one call per model) → publish predictions
 *   and dead letters to Kafka → write track events, predictions and dead letters to ClickHouse →
 *   commit the batch's offsets.
 * The batches of all partitions in one fetch are scored and published together (`scoring.ts`).
 * Offsets are committed only after everything is written, and every row's id comes from the
 * message (its event-id header, or its Kafka position), so a crash at any point means a re-delivery that overwrites the same rows
 * (ReplacingMergeTree, read with FINAL): nothing lost, nothing counted twice.
 *
 * The ClickHouse write and commit run while the next batches are fetched, scored and published:
 * `BatchWriter` writes the rows of all batches scored meanwhile together and then commits their
 * offsets. Waiting for each batch's write before fetching again put the write's time on every
 * event's latency (bench: p99 336–565 ms at 1,000 events/s).
 *
 * Failures: a message that cannot be an event is a dead letter; a row ClickHouse refuses is split
 * out and dead-lettered by the writer; an outage is retried without committing. Anything else
 * (a fatal storage or Kafka error, the consumer crashing for good) ends the worker: `fatal`
 * resolves with the cause, the process exits non-zero, and until then `ready()` is false.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { type Consumer, type EachBatchPayload, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { HitstreamError } from '../lib/errors.ts';
import { classifyKafkaError } from '../lib/kafka-errors.ts';
import { createKafka, PRODUCER_RETRY, restartUnless } from '../lib/kafka.ts';
import type { Logger } from '../lib/logger.ts';
import type { LoadedModels } from '../models/model-set.ts';
import { type Serving, servingOf } from '../registry/serving.ts';
import type { DeadLetter } from '../schemas/dead-letter.ts';
import { deadLetterFor, decodeTrackMessage, eventIdOf, rejectedRowDeadLetter } from './decode.ts';
import { withRetry } from '../lib/retry.ts';
import type { WorkerMetrics } from './metrics.ts';
import {
  deadLetterOrigin,
  deadLetterRow,
  encodeRows,
  predictionOrigins,
  predictionRows,
  type Scored,
  shadowPredictionRows,
  trackRow,
} from '../warehouse/rows.ts';
import { createScoringStage } from './scoring.ts';
import { BatchWriter, type RejectedRow, type Unstored } from './writer.ts';

/** What a retry warning adds: nothing is lost meanwhile, the events wait in Kafka. */
const UNCOMMITTED = 'offsets are not committed until it succeeds';

/** What a stop left undone: events the next owner of their partitions reads again. */
export interface StopReport {
  clean: boolean;
  unstored: Unstored[];
}

export interface Worker {
  start(): Promise<void>;
  /**
   * Stop fetching; store and commit the work in hand for up to `timeoutMs`; then give up on
   * what is left (nothing of it committed), leave the group and disconnect.
   */
  stop(timeoutMs?: number): Promise<StopReport>;
  /** True while the consumer runs in the group and nothing fatal happened. */
  readonly ready: () => boolean;
  /** Resolves with the error that ended this worker for good; never rejects. */
  readonly fatal: Promise<HitstreamError>;
}

/** kafkajs' fetch settings for HITSTREAM_FETCH_WAIT_MS: the broker answers at 64 KB or after the wait. */
export const fetchWait = (ms: number) =>
  ms > 0 ? { minBytes: 64 * 1024, maxWaitTimeInMs: ms } : { minBytes: 1, maxWaitTimeInMs: 5_000 };

export function createWorker(
  cfg: Config,
  deps: {
    /** The versions to score with; or a fixed set of models (served as version `local`). */
    serving?: Serving;
    models?: LoadedModels;
    metrics: WorkerMetrics;
    log: Logger;
    clickhouse?: ClickHouseClient;
  },
): Worker {
  const { metrics, log } = deps;
  const serving = deps.serving ?? servingOf(deps.models!);
  const kafka = createKafka(cfg, `hitstream-worker-${process.pid}`);
  const consumer: Consumer = kafka.consumer({
    groupId: cfg.consumerGroup,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    maxBytesPerPartition: 2 * 1024 * 1024,
    ...fetchWait(cfg.fetchWaitMs),
    retry: restartUnless(() => stopping),
  });
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    retry: PRODUCER_RETRY,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const ch = deps.clickhouse ?? createClickhouse(cfg);
  /** Aborted when the shutdown deadline comes: retries of outages give up then. */
  const shutdown = new AbortController();
  let fatalError: HitstreamError | undefined;
  let reportFatal: (err: HitstreamError) => void = () => undefined;
  const fatal = new Promise<HitstreamError>((resolve) => (reportFatal = resolve));
  /** Ends the worker for good: no more batches, nothing more committed, `fatal` resolves. */
  const fail = (err: unknown, what: string) => {
    if (fatalError || shutdown.signal.aborted) return;
    fatalError =
      err instanceof HitstreamError
        ? err
        : new HitstreamError(
            'worker_failed',
            `${what}: ${err instanceof Error ? err.message : String(err)}`,
            {
              cause: err,
            },
          );
    try {
      consumer.pause([{ topic: cfg.topicTracks }]);
    } catch {
      // not running: nothing to pause
    }
    reportFatal(fatalError);
  };
  /** Publishes the dead letters of rows ClickHouse refused; returns their rows for dead_letters. */
  async function deadLetterRejected(rejected: RejectedRow[]) {
    const now = new Date();
    const dead = rejected.map((r) => rejectedRowDeadLetter(r, now));
    await withRetry(
      'publish dead letters',
      () =>
        producer.send({
          topic: cfg.topicDeadLetters,
          acks: -1,
          messages: dead.map((d) => ({ key: d.key ?? null, value: JSON.stringify(d) })),
        }),
      { log, signal: shutdown.signal, meanwhile: UNCOMMITTED },
      (err) => classifyKafkaError(err, 'publish dead letters'),
    );
    for (const d of dead) metrics.deadLetters.inc({ reason: d.error_code });
    log.warn(
      { count: dead.length, tables: [...new Set(rejected.map((r) => r.table))], reason: rejected[0]!.reason },
      'ClickHouse refused rows; they are dead letters, the rest is stored',
    );
    return { table: 'dead_letters', rows: encodeRows(dead.map(deadLetterRow), dead.map(deadLetterOrigin)) };
  }
  const writer = new BatchWriter({
    target: { client: ch, url: cfg.clickhouseUrl, database: cfg.clickhouseDatabase },
    rejectedRows: deadLetterRejected,
    minIntervalMs: cfg.writeIntervalMs,
    retry: { log, signal: shutdown.signal, meanwhile: UNCOMMITTED },
    // A refused commit is not an error: the partition moved to another member, or the group's
    // coordinator is gone until kafkajs finds the new one. A later commit covers these offsets;
    // if none comes, the next reader re-reads from the last commit and its writes replace the rows.
    commit: async (offsets) => {
      try {
        await consumer.commitOffsets(offsets);
      } catch (err) {
        log.warn(
          { err, offsets },
          `commit refused (${err instanceof Error ? err.message : String(err)}); a later commit covers these offsets, or their next reader re-reads the events (stored rows are replaced, not doubled)`,
        );
      }
    },
    onWritten: (w) => log.debug({ ...w, insertMs: Math.round(w.insertMs) }, 'rows stored, offsets committed'),
  });
  const score = createScoringStage({
    cfg,
    serving,
    metrics,
    producer,
    retry: { log, signal: shutdown.signal, meanwhile: UNCOMMITTED },
  });
  let stopping = false;
  /** Batch handlers running now (stop waits for them). */
  let active = 0;
  /** In the group with the consumer running: false from a crash until kafkajs rejoins. */
  let consuming = false;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    consuming = true;
    log.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  consumer.on(consumer.events.CRASH, (e) => {
    consuming = false;
    const { error, restart } = e.payload as { error: Error; restart: boolean };
    if (stopping) log.info({ err: error }, 'the consumer crashed while stopping; not restarted');
    else if (restart)
      log.warn({ err: error }, 'consumer crashed; kafkajs restarts it (unready until it rejoins)');
    else fail(classifyKafkaError(error, 'the consumer stopped'), 'the consumer stopped');
  });
  consumer.on(consumer.events.STOP, () => (consuming = false));

  async function handleBatch(payload: EachBatchPayload): Promise<void> {
    active++;
    try {
      await scoreBatch(payload);
    } catch (err) {
      // Not thrown to kafkajs: it would retry the same batch and then crash, in a loop. A batch
      // that cannot be handled ends the worker instead, and it is re-read after a restart.
      if (!shutdown.signal.aborted) fail(err, `partition ${payload.batch.partition}`);
    } finally {
      active--;
    }
  }

  async function scoreBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (stopping || fatalError || !batch.messages.length || !payload.isRunning() || payload.isStale()) return;
    // A failed heartbeat (the coordinator just died, the group is rebalancing) must not end the
    // worker: kafkajs finds the new coordinator or rejoins on its next request. Only logged.
    const heartbeat = () =>
      payload
        .heartbeat()
        .catch((err: unknown) =>
          log.debug({ err, partition: batch.partition }, 'heartbeat failed; kafkajs recovers'),
        );
    const now = new Date();
    const t0 = performance.now();
    const valid: Scored[] = [];
    const dead: DeadLetter[] = [];
    for (const m of batch.messages) {
      const d = decodeTrackMessage(m.value);
      if (d.ok)
        valid.push({
          eventId: eventIdOf(batch.topic, batch.partition, m),
          event: d.event,
          origin: {
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            ...(m.key ? { key: m.key.toString('utf8') } : {}),
          },
        });
      else dead.push(deadLetterFor(d, m, batch.topic, batch.partition, now));
    }
    metrics.eventsIn.inc(batch.messages.length);
    metrics.batchSize.observe(batch.messages.length);

    const tDecoded = performance.now();
    const { pred, versions, shadow, scoredAt, publishedAt, run } = await score({ valid, dead, heartbeat });
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
      rows: {
        track_events: encodeRows(
          valid.map((s) => trackRow(s, scoredAt)),
          valid.map((s) => s.origin),
        ),
        predictions: encodeRows(
          predictionRows(valid, pred, versions, scoredAt),
          predictionOrigins(valid, pred),
        ),
        ...(shadow
          ? {
              shadow_predictions: encodeRows(
                shadowPredictionRows(
                  valid,
                  shadow.pred,
                  shadow.set.version,
                  shadow.set.models.versions,
                  scoredAt,
                ),
                predictionOrigins(valid, shadow.pred),
              ),
            }
          : {}),
        dead_letters: encodeRows(dead.map(deadLetterRow), dead.map(deadLetterOrigin)),
      },
    });
    // Handled here, so a failed write is never an unhandled rejection. A write fails only for
    // good (fatal error, or shutdown's deadline): nothing after it is committed.
    stored.then(
      () => {
        for (const m of pred.names) metrics.predictionsOut.inc({ model: m }, valid.length);
        for (const d of dead) metrics.deadLetters.inc({ reason: d.error_code });
      },
      (err: unknown) => fail(err, 'writing to ClickHouse'),
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
        decodeMs: Math.round((tDecoded - t0) * 10) / 10,
        run,
        publishedEventAgeMs: valid.length ? publishedAt - Date.parse(valid[0]!.event.event_time) : undefined,
        pendingEvents: writer.pendingEvents,
      },
      'batch scored',
    );
    // Backpressure: with too many events not yet stored (ClickHouse slow or down), wait for this
    // batch's write, heart-beating so the group does not take the partitions away meanwhile.
    if (writer.full) {
      const settled = stored.then(
        () => true,
        () => true,
      );
      while (!(await Promise.race([settled, new Promise<false>((r) => setTimeout(() => r(false), 1000))])))
        await heartbeat();
      await stored.catch(() => undefined); // reported through `fail`
    }
    await heartbeat();
  }

  /** `p`, or undefined once `ms` have passed. */
  const within = <T>(p: Promise<T>, ms: number) =>
    Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, ms)).unref())]);

  return {
    fatal,
    ready: () => consuming && !fatalError && !stopping,
    async start() {
      await Promise.all([consumer.connect(), producer.connect()]);
      await consumer.subscribe({ topic: cfg.topicTracks, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Every partition of a fetch in flight at once, so that the scoring stage scores them
        // together (one call per model, one produce request) rather than one after another.
        partitionsConsumedConcurrently: 64,
        eachBatch: handleBatch,
      });
    },
    async stop(timeoutMs = cfg.shutdownTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      // No new batches; the one in hand finishes; then its write and commit, while still in the
      // group (a commit after leaving would be refused and the batch re-read by the next owner).
      stopping = true;
      try {
        consumer.pause([{ topic: cfg.topicTracks }]);
      } catch {
        // never started
      }
      // Not consumer.stop(): it leaves the group, after which the commits below would be refused.
      const drained = (async () => {
        while (active > 0) await new Promise((r) => setTimeout(r, 20));
        await writer.flushed();
      })();
      // Past the deadline, retries of an outage give up; what is not stored stays uncommitted.
      const timer = setTimeout(() => shutdown.abort(), Math.max(0, deadline - Date.now() - 3_000));
      await drained;
      clearTimeout(timer);
      const unstored = writer.unstored();
      // Leaving the group and closing may hang while Kafka is down: bounded by what is left.
      const left = () => Math.max(1_000, deadline - Date.now());
      await within(
        consumer.disconnect().catch(() => undefined),
        left(),
      );
      await within(
        producer.disconnect().catch(() => undefined),
        left(),
      );
      await within(
        ch.close().catch(() => undefined),
        left(),
      );
      return { clean: unstored.length === 0 && !fatalError, unstored };
    },
  };
}
