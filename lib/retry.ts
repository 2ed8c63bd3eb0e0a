/**
 * Retrying what an outage interrupts (ClickHouse down, a Kafka partition without enough in-sync
 * replicas): capped exponential backoff, a warning once per interval rather than once per attempt,
 * and a line when it recovers. Errors that no retry fixes are thrown at once, as `classify` names
 * them. The worker retries until its shutdown deadline (`signal`); a publisher gives up after
 * `giveUpAfterMs` and throws the last error.
 */
import type { HitstreamError } from './errors.ts';
import type { Logger } from './logger.ts';

export interface RetryOptions {
  log: Logger;
  /** Give up (throw) when this is aborted: the shutdown deadline has come. */
  signal?: AbortSignal;
  /** Give up (throw the last error) once the failures have lasted this long. */
  giveUpAfterMs?: number;
  maxDelayMs?: number;
  logEveryMs?: number;
  /** What the warning adds after the error: what happens meanwhile. */
  meanwhile?: string;
}

/** Tries `fn` until it succeeds, `classify` says its error is not retriable, or the budget ends. */
export async function withRetry<T>(
  what: string,
  fn: () => Promise<T>,
  opts: RetryOptions,
  classify: (err: unknown) => HitstreamError,
): Promise<T> {
  let delay = 200;
  let attempts = 0;
  let lastLog = 0;
  let lastCode = '';
  const firstFailure = Date.now();
  for (;;) {
    try {
      const result = await fn();
      if (attempts > 0)
        opts.log.info(
          { what, attempts, downSeconds: (Date.now() - firstFailure) / 1000 },
          `${what}: recovered`,
        );
      return result;
    } catch (raw) {
      attempts++;
      const err = classify(raw);
      const outOfTime = opts.giveUpAfterMs !== undefined && Date.now() - firstFailure >= opts.giveUpAfterMs;
      if (!err.retriable || opts.signal?.aborted || outOfTime) throw err;
      // Once per interval, and at once when the reason changes (a broker down, then too few replicas).
      if (Date.now() - lastLog > (opts.logEveryMs ?? 10_000) || err.code !== lastCode) {
        lastLog = Date.now();
        lastCode = err.code;
        opts.log.warn(
          { code: err.code, what, attempts },
          `${err.message}; retrying${opts.meanwhile ? ` (${opts.meanwhile})` : ''}`,
        );
      }
      const until = Date.now() + delay;
      while (Date.now() < until && !opts.signal?.aborted) {
        await new Promise((r) => setTimeout(r, Math.min(1000, until - Date.now())));
      }
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 10_000);
    }
  }
}
