/**
 * Reads the predictions topic (not ClickHouse) for the live feed. Each API process is its own
 * consumer group and starts at the end: a feed shows what happens from now on. Its position is
 * committed every second, so that when the group has to rejoin (a broker restart) the feed
 * resumes where it was instead of jumping to the end and skipping what happened meanwhile.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config.ts';
import { createKafka, restartUnless } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ScoredEvent } from '../../schemas/prediction.ts';

const COMMIT_INTERVAL_MS = 1_000;

export async function startPredictionsSource(
  cfg: Config,
  log: Logger,
  onEvents: (events: ScoredEvent[]) => void,
) {
  const kafka = createKafka(cfg, 'hitstream-api-feed');
  const groupId = `hitstream-feed-${randomUUID()}`;
  let stopped = false;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50, retry: restartUnless(() => stopped) });
  let joined = false;
  // kafkajs hands over one partition at a time; the partitions of one fetch go out together.
  let pending: ScoredEvent[] = [];
  const deliver = () => {
    const events = pending;
    pending = [];
    onEvents(events);
  };
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  /** Per partition, the next offset to read, once it is past the last commit. */
  const uncommitted = new Map<number, string>();
  const commit = () => {
    if (!uncommitted.size) return;
    const offsets = [...uncommitted].map(([partition, offset]) => ({
      topic: cfg.topicPredictions,
      partition,
      offset,
    }));
    uncommitted.clear();
    consumer.commitOffsets(offsets).catch((err: unknown) => {
      log.debug({ err }, 'feed position not committed; the next round retries');
      for (const o of offsets) if (!uncommitted.has(o.partition)) uncommitted.set(o.partition, o.offset);
    });
  };
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topicPredictions, fromBeginning: false });
  await consumer.run({
    // Committed from a timer, not by kafkajs: with autoCommit it awaits an OffsetCommit round
    // trip after every partition's batch before it fetches again, which held each fetch's later
    // partitions back (bench feed, broker append → API receipt: p50 6–8 ms, p99 40–66 ms with
    // autoCommit; 2–3 and 10–33 without).
    autoCommit: false,
    eachBatch: ({ batch }) => {
      if (batch.messages.length)
        uncommitted.set(batch.partition, (BigInt(batch.lastOffset()) + 1n).toString());
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
  const committer = setInterval(commit, COMMIT_INTERVAL_MS).unref();
  return {
    ready: () => joined,
    stop: async () => {
      stopped = true;
      clearInterval(committer);
      await consumer.disconnect();
      // The group was only ever this process's: remove it so groups do not pile up on the broker.
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
