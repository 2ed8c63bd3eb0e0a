/**
 * Reads the predictions topic (not ClickHouse) for the live feed. Each API process is its own
 * consumer group and starts at the end: a feed shows what happens from now on.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../lib/config.ts';
import { createKafka } from '../../lib/kafka.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ScoredEvent } from '../../schemas/prediction.ts';

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
    autoCommit: true,
    eachBatch: ({ batch }) => {
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
