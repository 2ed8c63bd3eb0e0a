/** Prometheus metrics of the autopilot: runs by outcome, how long runs and their steps take, the test's events. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createAutopilotMetrics() {
  const registry = new Registry();
  const runs = new Counter({
    name: 'hitstream_autopilot_runs_total',
    help: 'Autopilot runs ended, by outcome (promoted, retired, rolled back, failed, ended)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const active = new Gauge({
    name: 'hitstream_autopilot_run_active',
    help: '1 while a run is in progress',
    registers: [registry],
  });
  const runSeconds = new Histogram({
    name: 'hitstream_autopilot_run_seconds',
    help: 'A run from its start to its outcome',
    labelNames: ['outcome'],
    buckets: [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600],
    registers: [registry],
  });
  const stepSeconds = new Histogram({
    name: 'hitstream_autopilot_step_seconds',
    help: 'Time of the steps before judging: train, push, backfill',
    labelNames: ['step'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const testEvents = new Gauge({
    name: 'hitstream_autopilot_test_events',
    help: 'Paired labelled events the current sequential test has seen',
    registers: [registry],
  });
  return {
    registry,
    started: () => active.set(1),
    outcome(outcome: string, seconds: number) {
      runs.inc({ outcome });
      runSeconds.observe({ outcome }, seconds);
      active.set(0);
      testEvents.set(0);
    },
    testEvents: (n: number) => testEvents.set(n),
    async timed<T>(step: string, fn: () => Promise<T>): Promise<T> {
      const end = stepSeconds.startTimer({ step });
      try {
        return await fn();
      } finally {
        end();
      }
    },
  };
}

export type AutopilotMetrics = ReturnType<typeof createAutopilotMetrics>;
