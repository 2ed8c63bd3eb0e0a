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
import { loadModels } from '../models/registry.ts';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.ts';
import { createWorker, type StopReport, type Worker } from './worker.ts';

export async function runWorker(cfg: Config): Promise<void> {
  const log = createLogger('worker');
  const metrics = createWorkerMetrics();
  let worker: Worker | undefined;
  const server = await serveHealth(cfg, metrics, () => worker, log);

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
    const models = await loadModels(cfg.modelsDir || undefined, { rfPredictor: cfg.rfPredictor });
    await models.warmUp();
    log.info(
      {
        seconds: models.loadSeconds.toFixed(2),
        versions: Object.values(models.manifests).map((m) => m.version),
      },
      'models loaded',
    );
    await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
    if (stopping) return;
    worker = createWorker(cfg, { models, metrics, log });
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

/** /health is 200 only while the worker consumes; /metrics is Prometheus'. */
async function serveHealth(
  cfg: Config,
  metrics: WorkerMetrics,
  worker: () => Worker | undefined,
  log: Logger,
): Promise<Server> {
  const health = createClickhouse(cfg, { timeoutMs: 3_000 });
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
      } else if (req.url === '/health') {
        const clickhouse = await health
          .ping()
          .then((p) => p.success)
          .catch(() => false);
        const w = worker();
        const consuming = w?.ready() ?? false;
        const body = {
          ready: consuming && clickhouse,
          kafka: consuming,
          clickhouse,
          models: w !== undefined,
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
