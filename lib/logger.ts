import { pino } from 'pino';

/** Structured JSON logs on stderr (stdout stays free for command output such as CSV or JSON). */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info') {
  return pino({ name, level, base: { name } }, pino.destination(2));
}
export type Logger = ReturnType<typeof createLogger>;
