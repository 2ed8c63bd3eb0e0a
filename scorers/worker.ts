/**
 * The scorer worker: consumes the tracks topic in a consumer group, batch by batch:
 *   decode + validate → score with all four models (one call per model) → publish predictions
 *   and dead letters to Kafka → write track events, predictions and dead letters to ClickHouse →
 *   commit the batch's offsets.
 * Each stage has its file: decode.ts, scoring.ts (score), publish.ts, write.ts and writer.ts
 * (write), commit.ts; batch.ts runs one batch through them. The batches of all partitions in one
 * fetch are scored and published together (`scoring.ts`).
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
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { HitstreamError } from '../lib/errors.ts';
import { createGroupConsumer, type GroupConsumer } from '../lib/kafka-consumer.ts';
import { createProducer } from '../lib/kafka-producer.ts';
import type { Logger } from '../lib/logger.ts';
import type { LoadedModels } from '../models/model-set.ts';
import { type Serving, servingOf } from '../registry/serving.ts';
import { createBatchHandler } from './batch.ts';
import { commitStage } from './commit.ts';
import type { WorkerMetrics } from './metrics.ts';
import { createPublishStage } from './publish.ts';
import { createScoringStage } from './scoring.ts';
import { createExplainStage } from './explain.ts';
import { deadLetterRejectedRows } from './write.ts';
import { BatchWriter, type Unstored } from './writer.ts';

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

/** Fetch settings for HITSTREAM_FETCH_WAIT_MS: the broker answers at 64 KB or after the wait. */
const fetchWait = (ms: number) =>
  ms > 0 ? { minBytes: 64 * 1024, maxWaitMs: ms } : { minBytes: 1, maxWaitMs: 5_000 };

/** How often the consumer lag gauge is refreshed (the log end offsets are asked of the brokers). */
const LAG_INTERVAL_MS = 5_000;

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
  let stopping = false;
  // Connects on its first send.
  const producer = createProducer(cfg, `hitstream-worker-${process.pid}`);
  const ch = deps.clickhouse ?? createClickhouse(cfg);
  /** Aborted when the shutdown deadline comes: retries of outages give up then. */
  const shutdown = new AbortController();
  const ending = fatalOutcome(
    () => shutdown.signal.aborted,
    () => consumer.pause(),
  );
  const retry = { log, signal: shutdown.signal, meanwhile: UNCOMMITTED };

  const consumer: GroupConsumer = createGroupConsumer(cfg, {
    clientId: `hitstream-worker-${process.pid}`,
    groupId: cfg.consumerGroup,
    topics: [cfg.topicTracks],
    fromBeginning: true,
    sessionTimeoutMs: 30_000,
    heartbeatIntervalMs: 3_000,
    maxBytesPerPartition: 2 * 1024 * 1024,
    ...fetchWait(cfg.fetchWaitMs),
    // Every partition of a fetch at once, so that the scoring stage scores them together (one
    // call per model, one produce request) rather than one after another.
    onBatches: async (fetched) => {
      await Promise.all(fetched.map((b) => batches.handle(b)));
    },
    onFatal: (err) => ending.fail(err, 'the consumer stopped'),
    stopped: () => stopping || ending.error() !== undefined,
    log,
  });
  const publish = createPublishStage({ cfg, producer, retry });
  const writer = new BatchWriter({
    target: { client: ch, url: cfg.clickhouseUrl, database: cfg.clickhouseDatabase },
    rejectedRows: deadLetterRejectedRows({ publish, metrics, log }),
    minIntervalMs: cfg.writeIntervalMs,
    retry,
    commit: commitStage(consumer, log),
    onWritten: (w) => log.debug({ ...w, insertMs: Math.round(w.insertMs) }, 'rows stored, offsets committed'),
  });
  const explain = createExplainStage({
    sample: cfg.explainSample,
    budget: cfg.explainBudget,
    clickhouse: ch,
    metrics,
    log,
  });
  const batches = createBatchHandler({
    score: createScoringStage({
      serving: deps.serving ?? servingOf(deps.models!),
      metrics,
      publish,
      explain,
    }),
    writer,
    metrics,
    log,
    accepting: () => !stopping && !ending.error(),
    fail: ending.fail,
    aborted: () => shutdown.signal.aborted,
  });
  const lagTimer = setInterval(() => {
    consumer.lag().then(
      (lag) => {
        for (const [partition, behind] of lag) metrics.lag.set({ partition: String(partition) }, behind);
      },
      (err: unknown) => log.debug({ err }, 'consumer lag not measured this time'),
    );
  }, LAG_INTERVAL_MS).unref();

  return {
    fatal: ending.fatal,
    ready: () => consumer.consuming() && !ending.error() && !stopping,
    async start() {
      await consumer.start();
    },
    async stop(timeoutMs = cfg.shutdownTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      // No new batches; the one in hand finishes; then its write and commit, while still in the
      // group (a commit after leaving would be refused and the batch re-read by the next owner).
      stopping = true;
      clearInterval(lagTimer);
      // Paused, still in the group: a commit after leaving it would be refused.
      consumer.pause();
      const drained = batches.idle().then(() => writer.flushed());
      // Past the deadline, retries of an outage give up; what is not stored stays uncommitted.
      const timer = setTimeout(() => shutdown.abort(), Math.max(0, deadline - Date.now() - 3_000));
      await drained;
      await within(explain.stop(), Math.max(1_000, deadline - Date.now() - 3_000));
      clearTimeout(timer);
      const unstored = writer.unstored();
      // Leaving the group and closing may hang while Kafka is down: bounded by what is left.
      for (const close of [() => consumer.close(), () => producer.close(), () => ch.close()])
        await within(
          close().catch(() => undefined),
          Math.max(1_000, deadline - Date.now()),
        );
      return { clean: unstored.length === 0 && !ending.error(), unstored };
    },
  };
}

/**
 * The worker's end for good: `fail` records the first cause (not one during the shutdown's
 * deadline), stops fetching, and resolves `fatal`; nothing is committed after it.
 */
function fatalOutcome(shuttingDown: () => boolean, stopFetching: () => void) {
  let error: HitstreamError | undefined;
  let report: (err: HitstreamError) => void = () => undefined;
  const fatal = new Promise<HitstreamError>((resolve) => (report = resolve));
  const fail = (err: unknown, what: string) => {
    if (error || shuttingDown()) return;
    error =
      err instanceof HitstreamError
        ? err
        : new HitstreamError(
            'worker_failed',
            `${what}: ${err instanceof Error ? err.message : String(err)}`,
            {
              cause: err,
            },
          );
    stopFetching();
    report(error);
  };
  return { fatal, fail, error: () => error };
}

/** `p`, or undefined once `ms` have passed. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, ms)).unref())]);
