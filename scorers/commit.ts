/**
 * The worker's commit stage: a batch's offsets, committed after its rows are stored.
 *
 * A refused commit is not an error: the partition moved to another member, or the group's
 * coordinator is gone until the client finds the new one. A later commit covers these offsets; if
 * none comes, the next reader re-reads from the last commit and its writes replace the rows.
 */
import type { GroupConsumer } from '../lib/kafka-consumer.ts';
import type { Logger } from '../lib/logger.ts';

export function commitStage(consumer: Pick<GroupConsumer, 'commit'>, log: Logger) {
  return async (offsets: { topic: string; partition: number; offset: string }[]) => {
    try {
      await consumer.commit(offsets);
    } catch (err) {
      log.warn(
        { err, offsets },
        `commit refused (${err instanceof Error ? err.message : String(err)}); a later commit covers these offsets, or their next reader re-reads the events (stored rows are replaced, not doubled)`,
      );
    }
  };
}
