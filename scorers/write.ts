/**
 * The worker's write stage, as data: the ClickHouse rows of one scored batch (track events,
 * predictions, shadow predictions, dead letters), and the dead letters of rows ClickHouse
 * refuses. `BatchWriter` (writer.ts) writes them and then commits.
 */
import type { Logger } from '../lib/logger.ts';
import type { DeadLetter } from '../schemas/dead-letter.ts';
import { predictionRowsText, trackRowsText } from '../warehouse/row-text.ts';
import { deadLetterOrigin, deadLetterRow, encodeRows, type Scored } from '../warehouse/rows.ts';
import { rejectedRowDeadLetter } from './decode.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { PublishStage } from './publish.ts';
import type { ScoreResult } from './scoring.ts';
import type { RejectedRow } from './writer.ts';

/** One batch's rows per table, each with the Kafka position of the event it came from. */
export function batchRows(valid: readonly Scored[], dead: readonly DeadLetter[], scored: ScoreResult) {
  const { pred, versions, shadow, scoredAt } = scored;
  return {
    track_events: trackRowsText(valid, scoredAt),
    predictions: predictionRowsText(valid, pred, versions, scoredAt),
    ...(shadow
      ? {
          shadow_predictions: predictionRowsText(
            valid,
            shadow.pred,
            shadow.set.models.versions,
            scoredAt,
            shadow.set.version,
          ),
        }
      : {}),
    dead_letters: encodeRows(dead.map(deadLetterRow), dead.map(deadLetterOrigin)),
  };
}

/**
 * What the writer does with rows ClickHouse refused: publishes their dead letters and returns
 * their rows for the dead_letters table (the rest of the write is stored).
 */
export function deadLetterRejectedRows(deps: { publish: PublishStage; metrics: WorkerMetrics; log: Logger }) {
  return async (rejected: RejectedRow[]) => {
    const now = new Date();
    const dead = rejected.map((r) => rejectedRowDeadLetter(r, now));
    await deps.publish.deadLetters(dead);
    for (const d of dead) deps.metrics.deadLetters.inc({ reason: d.error_code });
    deps.log.warn(
      { count: dead.length, tables: [...new Set(rejected.map((r) => r.table))], reason: rejected[0]!.reason },
      'ClickHouse refused rows; they are dead letters, the rest is stored',
    );
    return { table: 'dead_letters', rows: encodeRows(dead.map(deadLetterRow), dead.map(deadLetterOrigin)) };
  };
}
