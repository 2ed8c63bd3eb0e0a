/**
 * Signals for long-running commands: the first SIGTERM or SIGINT starts a graceful stop, a second
 * one exits at once, and a stop that overruns its time limit (plus a little) exits anyway. So a
 * process never outlives Kubernetes' grace period or a person's second Ctrl-C.
 */
import type { Logger } from './logger.ts';

const EXIT_CODE: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export function onShutdownSignal(
  log: Pick<Logger, 'warn' | 'error'>,
  stop: (signal: NodeJS.Signals) => void,
  opts: { backstopMs?: number; onSecondSignal?: () => void } = {},
): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.onSecondSignal?.();
      log.warn({ signal }, 'second signal: exiting now (what was not stored is not committed)');
      process.exit(EXIT_CODE[signal] ?? 1);
    }
    stopping = true;
    if (opts.backstopMs)
      setTimeout(() => {
        log.error({ backstopMs: opts.backstopMs }, 'the stop overran its time limit: exiting now');
        process.exit(1);
      }, opts.backstopMs).unref();
    stop(signal);
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}
