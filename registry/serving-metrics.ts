/** Prometheus series of what a process serves, shared by the workers and the API. */
import { Counter, type Registry } from 'prom-client';
import type { ServingStatus } from './serving.ts';

/** Returns `record(status)`, to call before each scrape: it counts the loads failed since the last. */
export function servingMetrics(registry: Registry) {
  const failures = new Counter({
    name: 'hitstream_model_load_failures_total',
    help: 'Failed loads of a model set version (the previous set keeps serving), by version',
    labelNames: ['version'],
    registers: [registry],
  });
  const counted: Record<string, number> = {};
  return (status: ServingStatus) => {
    for (const [version, n] of Object.entries(status.loadFailures)) {
      if (n > (counted[version] ?? 0)) failures.inc({ version }, n - (counted[version] ?? 0));
      counted[version] = n;
    }
  };
}
