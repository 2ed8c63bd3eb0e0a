/** Startup of one scorer worker: load models, serve /metrics and /health, consume until SIGTERM. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { loadModels } from '../models/registry.ts';
import { createWorkerMetrics } from './metrics.ts';
import { createWorker } from './worker.ts';

export async function runWorker(cfg: Config): Promise<void> {
  const log = createLogger('worker');
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
  const metrics = createWorkerMetrics();
  const health = createClickhouse(cfg);
  const worker = createWorker(cfg, { models, metrics, log });

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
        const body = { ready: worker.ready() && clickhouse, kafka: worker.ready(), clickhouse, models: true };
        res
          .writeHead(body.ready ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify(body));
      } else res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(cfg.workerPort, cfg.workerHost, resolve));
  log.info({ port: (server.address() as AddressInfo).port }, 'metrics and health listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing the batch in hand, committing, leaving the group');
    void worker
      .stop()
      .then(() => health.close())
      .then(() => server.close())
      .then(() => {
        log.info('stopped cleanly');
        process.exit(0);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await worker.start();
}
