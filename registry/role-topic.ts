/**
 * The role state on Kafka's compacted `hitstream.models` topic: one key, `roles`, whose latest
 * value is the whole state (`roles.ts`). Every worker and API process follows the topic from its
 * start with a consumer group of its own, so it learns of a change within a fetch (~1 s) and a
 * process started later reads the current state first.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Partitioners } from 'kafkajs';
import type { Config } from '../lib/config.ts';
import { createKafka, whileTopicSettles } from '../lib/kafka.ts';
import type { Logger } from '../lib/logger.ts';
import type { RoleState } from './roles.ts';

const KEY = 'roles';

export async function publishRoles(cfg: Config, state: RoleState): Promise<void> {
  const producer = createKafka(cfg, 'hitstream-models').producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    await producer.send({
      topic: cfg.topicModels,
      acks: -1,
      messages: [{ key: KEY, value: JSON.stringify(state) }],
    });
  } finally {
    await producer.disconnect();
  }
}

function parseState(value: Buffer | null): RoleState | undefined {
  try {
    const s = value ? (JSON.parse(value.toString('utf8')) as RoleState) : undefined;
    return s && typeof s.live === 'string' && typeof s.seq === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Follows the topic; `onState` gets every newer state, starting with the current one. `initial`
 * resolves once the topic has been read to its end (with the state then, or undefined when the
 * topic is empty).
 */
export async function watchRoles(cfg: Config, log: Logger, onState: (s: RoleState) => void) {
  const kafka = createKafka(cfg, 'hitstream-roles');
  const admin = kafka.admin();
  await admin.connect();
  const [end] = await whileTopicSettles(() => admin.fetchTopicOffsets(cfg.topicModels));
  const endOffset = Number(end?.high ?? 0);
  const groupId = `hitstream-roles-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, maxWaitTimeInMs: 500 });
  let latest: RoleState | undefined;
  let caughtUp: (s: RoleState | undefined) => void = () => undefined;
  const initial = new Promise<RoleState | undefined>((r) => (caughtUp = r));
  if (endOffset === 0) caughtUp(undefined);
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topicModels, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const s = message.key?.toString() === KEY ? parseState(message.value) : undefined;
      if (message.key?.toString() === KEY && !s)
        log.warn({ offset: message.offset }, 'ignoring an unreadable role state');
      // `>=`: two changes made at once carry the same seq; the later one in the log wins, as it
      // does after compaction (which keeps only the last), so running and restarted processes agree.
      if (s && (!latest || s.seq >= latest.seq)) {
        latest = s;
        onState(s);
      }
      if (Number(message.offset) >= endOffset - 1) caughtUp(latest);
      return Promise.resolve();
    },
  });
  return {
    initial,
    current: () => latest,
    async stop() {
      await consumer.disconnect().catch(() => undefined);
      // The group held no offsets worth keeping: remove it so the broker does not collect them.
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
    },
  };
}

/** The current role state (reads the topic to its end), or undefined when none was published. */
export async function readRoles(cfg: Config, log: Logger): Promise<RoleState | undefined> {
  const watcher = await watchRoles(cfg, log, () => undefined);
  try {
    return await watcher.initial;
  } finally {
    await watcher.stop();
  }
}
