/**
 * Startup of one scorer worker: serve /health and /metrics at once (unready until consuming),
 * check the ClickHouse schema, load the models, consume until SIGTERM or a fatal error.
 * Exit codes: 0 after a clean stop; 1 on a fatal error, or when a stop had to leave events unstored.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { describeError, HitstreamError } from '../lib/errors.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger, type Logger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { requireSchema } from '../infra/migrate.ts';
import { type Serving, type ServingStatus, startServing } from '../registry/serving.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { createWorker, type StopReport, type Worker } from './worker.ts';

export async function runWorker(cfg: Config): Promise<void> {
  const log = createLogger('worker');
  const metrics = createWorkerMetrics();
  let worker: Worker | undefined;
  let serving: Serving | undefined;
  const server = await serveHealth(cfg, metrics, () => ({ worker, serving }), log);

  let stopping = false;
  onShutdownSignal(
    log,
    (signal) => {
      stopping = true;
      log.info(
        { signal, timeoutMs: cfg.shutdownTimeoutMs },
        'stopping: storing and committing the work in hand, then leaving the group (a second signal exits at once)',
      );
      void (async () => {
        const report = worker ? await worker.stop() : { clean: true, unstored: [] };
        server.close();
        exitAfterStop(log, report);
      })();
    },
    { backstopMs: cfg.shutdownTimeoutMs + 3_000 },
  );

  try {
    // Before anything slow: a worker that cannot store must say so within seconds.
    await requireSchema(cfg, {
      waitMs: 150_000,
      onWait: (problem) => log.warn({ problem }, 'waiting for ClickHouse (CLICKHOUSE_URL) to answer'),
    });
    await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
    // The live version from the registry (or the checkout's models when no roles exist yet).
    serving = await startServing(cfg, log);
    log.info({ live: serving.live().version, shadow: serving.shadow()?.version ?? null }, 'models loaded');
    if (stopping) return;
    worker = createWorker(cfg, { serving, metrics, log });
    void worker.fatal.then(async (err) => {
      log.fatal({ code: err.code, field: err.field }, describeError(err));
      // What was stored before the failure is committed; nothing after it.
      await worker?.stop(5_000);
      process.exit(1);
    });
    await worker.start();
  } catch (err) {
    if (stopping) return;
    const e = err instanceof HitstreamError ? err : undefined;
    log.fatal({ code: e?.code, field: e?.field }, describeError(err));
    process.exit(1);
  }
}

function exitAfterStop(log: Logger, report: StopReport): never {
  if (report.unstored.length)
    log.warn(
      { unstored: report.unstored },
      `stopped with ${report.unstored.reduce((n, u) => n + u.events, 0)} events not stored and not committed: the next owner of ${report.unstored
        .map((u) => `partition ${u.partition} re-reads from offset ${u.fromOffset}`)
        .join(', ')}`,
    );
  else log.info('stopped cleanly');
  process.exit(report.clean ? 0 : 1);
}

/** /health is 200 only while the worker consumes; /live while its event loop runs; /metrics is Prometheus'. */
async function serveHealth(
  cfg: Config,
  metrics: WorkerMetrics,
  current: () => { worker: Worker | undefined; serving: Serving | undefined },
  log: Logger,
): Promise<Server> {
  const health = createClickhouse(cfg, { timeoutMs: 3_000 });
  const server = createServer((req, res) => {
    void (async () => {
      const { worker: w, serving } = current();
      if (req.url === '/live') {
        // Answered by the event loop alone: a blocked loop fails the liveness probe.
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"alive":true}');
      } else if (req.url === '/metrics') {
        if (serving) recordServing(metrics, serving.status());
        metrics.ready.set(w?.ready() ? 1 : 0);
        res.setHeader('content-type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
      } else if (req.url === '/health') {
        const clickhouse = await health
          .ping()
          .then((p) => p.success)
          .catch(() => false);
        const consuming = w?.ready() ?? false;
        // A version that failed to load does not make the worker unready: it scores with the one
        // it has; `models` says which, and what it could not load.
        const body = {
          ready: consuming && clickhouse,
          kafka: consuming,
          clickhouse,
          models: serving?.status() ?? null,
        };
        res
          .writeHead(body.ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify(body));
      } else res.writeHead(404).end();
    })();
  });
  server.on('close', () => void health.close());
  await new Promise<void>((resolve) => server.listen(cfg.workerPort, cfg.workerHost, resolve));
  log.info({ port: (server.address() as AddressInfo).port }, 'metrics and health listening');
  return server;
}

function recordServing(metrics: WorkerMetrics, s: ServingStatus): void {
  metrics.servedVersion.reset();
  metrics.servedVersion.set({ role: 'live', version: s.live }, 1);
  if (s.shadow) metrics.servedVersion.set({ role: 'shadow', version: s.shadow }, 1);
  metrics.swaps.set(s.swaps);
  if (s.lastSwapSeconds !== null) metrics.lastSwapSeconds.set(s.lastSwapSeconds);
  metrics.recordServing(s);
}
