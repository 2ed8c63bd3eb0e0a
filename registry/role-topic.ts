/**
 * The role state on Kafka's compacted `hitstream.models` topic: one key, `roles`, whose latest
 * value is the whole state (`roles.ts`). Every worker and API process follows the topic from its
 * start with a consumer group of its own, so it learns of a change within a fetch (~1 s) and a
 * process started later reads the current state first.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../lib/config.ts';
import { whileTopicSettles } from '../lib/kafka.ts';
import { createGroupConsumer, deleteGroup } from '../lib/kafka-consumer.ts';
import { createProducer } from '../lib/kafka-producer.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { classifyKafkaError } from '../lib/kafka-errors.ts';
import { withRetry } from '../lib/retry.ts';
import type { RoleState } from './roles.ts';

const KEY = 'roles';

/** Publishes the new state; a send Kafka cannot take now is retried for up to 30 s, saying why. */
export async function publishRoles(cfg: Config, state: RoleState): Promise<void> {
  const producer = createProducer(cfg, 'hitstream-models');
  try {
    await withRetry(
      'publish the model roles',
      () => producer.send(cfg.topicModels, [{ key: KEY, value: JSON.stringify(state) }]),
      { log: createLogger('model-roles'), giveUpAfterMs: 30_000, maxDelayMs: 2_000 },
      (err) => classifyKafkaError(err, 'publish the model roles'),
    );
  } finally {
    await producer.close();
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
  const groupId = `hitstream-roles-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  let latest: RoleState | undefined;
  let caughtUp: (s: RoleState | undefined) => void = () => undefined;
  const initial = new Promise<RoleState | undefined>((r) => (caughtUp = r));
  let stopped = false;
  let endOffset = 0n;
  const consumer = createGroupConsumer(cfg, {
    clientId: 'hitstream-roles',
    groupId,
    topics: [cfg.topicModels],
    fromBeginning: true,
    maxWaitMs: 500,
    onBatches: (batches) => {
      for (const m of batches.flatMap((b) => b.messages)) {
        const isState = m.key?.toString() === KEY;
        const s = isState ? parseState(m.value) : undefined;
        if (isState && !s) log.warn({ offset: m.offset }, 'ignoring an unreadable role state');
        // `>=`: two changes made at once carry the same seq; the later one in the log wins, as it
        // does after compaction (which keeps only the last), so running and restarted processes agree.
        if (s && (!latest || s.seq >= latest.seq)) {
          latest = s;
          onState(s);
        }
        if (BigInt(m.offset) >= endOffset - 1n) caughtUp(latest);
      }
      return Promise.resolve();
    },
    onFatal: (err) => log.error({ err }, `no longer following model roles: ${err.message}`),
    stopped: () => stopped,
    log,
    quiet: true,
  });
  const ends = await whileTopicSettles(() => consumer.endOffsets());
  endOffset = ends.get(cfg.topicModels)?.[0] ?? 0n;
  if (endOffset === 0n) caughtUp(undefined);
  await consumer.start();
  return {
    initial,
    current: () => latest,
    async stop() {
      stopped = true;
      await consumer.close();
      // The group held no offsets worth keeping: remove it so the broker does not collect them.
      await deleteGroup(cfg, groupId);
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
