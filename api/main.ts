/** Startup of the API: models, Kafka publisher, the predictions feed, ClickHouse; graceful stop. */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { loadModels } from '../models/registry.ts';
import { createPublisher } from '../producers/publisher.ts';
import { buildApp } from './app.ts';
import { FeedHub } from './feed/hub.ts';
import { startPredictionsSource } from './feed/predictions-source.ts';

export async function runApi(cfg: Config): Promise<void> {
  const log = createLogger('api');
  const models = await loadModels(cfg.modelsDir || undefined, { rfPredictor: cfg.rfPredictor });
  await models.warmUp();
  await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
  const publisher = await createPublisher(cfg, 'hitstream-api');
  const clickhouse = createClickhouse(cfg);
  const hub = new FeedHub();
  const source = await startPredictionsSource(cfg, log, (events) => hub.publish(events));
  const app = await buildApp({ cfg, models, publisher, clickhouse, hub, feedReady: source.ready });
  await app.listen({ host: cfg.apiHost, port: cfg.apiPort });
  log.info({ url: `http://${cfg.apiHost}:${cfg.apiPort}`, docs: '/docs' }, 'API listening');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await app.close();
      await source.stop();
      await publisher.close();
      await clickhouse.close();
      process.exit(0);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
