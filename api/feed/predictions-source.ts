/**
 * Reads the predictions topic (not ClickHouse) for the live feed. Each API process is its own
 * consumer group and starts at the end: a feed shows what happens from now on.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config.ts';
import { createKafka } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ScoredEvent } from '../../schemas/prediction.ts';

const COMMIT_INTERVAL_MS = 5_000;

export async function startPredictionsSource(
  cfg: Config,
  log: Logger,
  onEvents: (events: ScoredEvent[]) => void,
) {
  const kafka = createKafka(cfg, 'hitstream-api-feed');
  const groupId = `hitstream-feed-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50 });
  let joined = false;
  // kafkajs hands over one partition at a time; the partitions of one fetch go out together.
  let pending: ScoredEvent[] = [];
  const deliver = () => {
    const events = pending;
    pending = [];
    onEvents(events);
  };
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topicPredictions, fromBeginning: false });
  await consumer.run({
    // Offsets are committed every few seconds, off the fetch path, not after every batch. With
    // autoCommit, kafkajs awaits an OffsetCommit round trip after every partition's batch before
    // it fetches again, which held each fetch's later partitions back (bench feed, broker append →
    // API receipt: p50 6–8 ms, p99 40–66 ms with commits; 2–3 and 10–33 without). The commits
    // are where the feed resumes after a rejoin (a broker restart), so it skips nothing.
    autoCommit: false,
    autoCommitInterval: COMMIT_INTERVAL_MS,
    eachBatch: (payload) => {
      const { batch } = payload;
      payload
        .commitOffsetsIfNecessary()
        .catch((err: unknown) => log.debug({ err }, 'feed offsets not committed; the next interval retries'));
      const before = pending.length;
      for (const m of batch.messages) {
        try {
          if (m.value) pending.push(JSON.parse(m.value.toString('utf8')) as ScoredEvent);
        } catch (err) {
          log.warn({ err, offset: m.offset }, 'unreadable message on the predictions topic');
        }
      }
      if (before === 0 && pending.length) setImmediate(deliver);
      return Promise.resolve();
    },
  });
  return {
    ready: () => joined,
    stop: async () => {
      await consumer.disconnect();
      // The group was only ever this process's: remove it so groups do not pile up on the broker.
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
