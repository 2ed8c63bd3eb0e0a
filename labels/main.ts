/** `npx hitstream label-sink`: checks the schema and topics, then stores labels until SIGTERM. */
import { setPriority } from 'node:os';
import type { Config } from '../lib/config.ts';
import { describeError } from '../lib/errors.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { requireSchema } from '../infra/migrate.ts';
import { createLabelSink } from './sink.ts';

/**
 * Below the scorers on a shared machine: a label can land a few milliseconds later, an event's
 * score should not (bench labels: the scoring p99 while 10,000 labels/s are stored).
 */
const NICENESS = 10;

export async function runLabelSink(cfg: Config): Promise<void> {
  const log = createLogger('label-sink');
  try {
    setPriority(NICENESS);
  } catch (err) {
    log.debug({ err }, 'could not lower the process priority; running at the default');
  }
  const sink = createLabelSink(cfg, { log });
  onShutdownSignal(
    log,
    () => {
      log.info({ stored: sink.stored() }, 'stopping: the batch in hand is stored and committed first');
      void sink.stop().then(() => process.exit(0));
    },
    { backstopMs: cfg.shutdownTimeoutMs + 3_000 },
  );
  try {
    await requireSchema(cfg, {
      waitMs: 150_000,
      onWait: (problem) => log.warn({ problem }, 'waiting for ClickHouse (CLICKHOUSE_URL) to answer'),
    });
    await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
    void sink.fatal.then(async (err) => {
      log.fatal({ code: err.code }, describeError(err));
      await sink.stop();
      process.exit(1);
    });
    await sink.start();
    log.info({ topic: cfg.topicLabels }, 'storing labels');
  } catch (err) {
    log.fatal(describeError(err));
    await sink.stop();
    process.exit(1);
  }
}
