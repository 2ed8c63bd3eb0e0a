/**
 * One error type for the whole project. `code` is stable (tests and dead-letter records use it),
 * `retriable` tells a caller whether trying again can help: scorers decide between retry and
 * dead-letter from this flag, never from message text.
 */
export class HitstreamError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  /** The offending field or setting, when there is one (e.g. `energy`, `KAFKA_BROKERS`). */
  readonly field: string | undefined;
  /** The message already says what the cause said (so `describeError` does not repeat it). */
  readonly explainsCause: boolean;
  /** The HTTP status the API answers this error with, when not the class's (400, or 503). */
  readonly status: number | undefined;

  constructor(
    code: string,
    message: string,
    opts: {
      retriable?: boolean;
      field?: string;
      cause?: unknown;
      explainsCause?: boolean;
      status?: number;
    } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'HitstreamError';
    this.code = code;
    this.retriable = opts.retriable ?? false;
    this.field = opts.field;
    this.explainsCause = opts.explainsCause ?? false;
    this.status = opts.status;
  }
}

export const isRetriable = (err: unknown): boolean => err instanceof HitstreamError && err.retriable;

/** A message fit for a user: the error's own, with its cause when that adds something. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof HitstreamError && err.explainsCause) return err.message;
  // Clients wrap errors in ones with the same message: say it once.
  const cause =
    err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
