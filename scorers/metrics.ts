/** Prometheus metrics of one scorer worker. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { servingMetrics } from '../registry/serving-metrics.ts';

export function createWorkerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hitstream_worker_' });
  return {
    registry,
    recordServing: servingMetrics(registry),
    eventsIn: new Counter({
      name: 'hitstream_events_in_total',
      help: 'Messages consumed from the tracks topic',
      registers: [registry],
    }),
    predictionsOut: new Counter({
      name: 'hitstream_predictions_out_total',
      help: 'Prediction rows written (one per event per model)',
      labelNames: ['model'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'hitstream_dead_letters_total',
      help: 'Events sent to the dead-letter topic',
      labelNames: ['reason'],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'hitstream_batch_size',
      help: 'Messages per consumed batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2000, 5000],
      registers: [registry],
    }),
    inferenceUs: new Histogram({
      name: 'hitstream_model_inference_us_per_row',
      help: 'Model time per row in a batch, microseconds',
      labelNames: ['model'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    latencyMs: new Histogram({
      name: 'hitstream_event_to_prediction_ms',
      help: 'Event time to prediction published, milliseconds',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'hitstream_consumer_lag',
      help: 'Messages behind the high watermark, per partition',
      labelNames: ['partition'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'hitstream_sink_retries_total',
      help: 'Failed ClickHouse or Kafka writes that were retried',
      registers: [registry],
    }),
    shadowCpuSeconds: new Counter({
      name: 'hitstream_shadow_cpu_seconds_total',
      help: 'CPU time spent scoring with the shadow version',
      registers: [registry],
    }),
    explanations: new Counter({
      name: 'hitstream_explanations_total',
      help: 'Sampled events by what became of their explanation: explained, skipped (over HITSTREAM_EXPLAIN_BUDGET), unavailable (a version trained before explanations), failed, not_stored',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    explainSeconds: new Counter({
      name: 'hitstream_explain_seconds_total',
      help: 'Time spent explaining sampled events (what HITSTREAM_EXPLAIN_BUDGET bounds)',
      registers: [registry],
    }),
    servedVersion: new Gauge({
      name: 'hitstream_model_version_served',
      help: '1 for each model set version this process serves, by role',
      labelNames: ['role', 'version'],
      registers: [registry],
    }),
    swaps: new Gauge({
      name: 'hitstream_model_swaps',
      help: 'Model set swaps since the process started',
      registers: [registry],
    }),
    ready: new Gauge({
      name: 'hitstream_worker_ready',
      help: '1 while the worker consumes in the group (what /health answers 200 for), else 0',
      registers: [registry],
    }),
    lastSwapSeconds: new Gauge({
      name: 'hitstream_model_last_swap_seconds',
      help: 'How long the last swap took, from the role change to the new set serving (download, load, warm-up)',
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
