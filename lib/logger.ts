import type { Writable } from 'node:stream';
import { pino } from 'pino';

let destination: Writable | undefined;

/**
 * Where loggers created from now on write, instead of stderr: `up` on a terminal sends its own
 * lines (its Kafka client's among them) through the same `up |` prefix and pretty-printer as its
 * children's, so no raw JSON line comes before the pretty ones.
 */
export function setLogDestination(stream: Writable): void {
  destination = stream;
}

/** Structured JSON logs on stderr (stdout stays free for command output such as CSV or JSON). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({ name, level, base: { name } }, destination ?? pino.destination(2));
}
export type Logger = ReturnType<typeof createLogger>;
