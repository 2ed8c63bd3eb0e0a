/** Startup of the API: models, Kafka publisher, the predictions feed, ClickHouse; graceful stop. */
import type { Config } from '../lib/config.ts';
import { createClickhouse } from '../lib/clickhouse.ts';
import { ensureTopics, SERVICE_KAFKA_WAIT } from '../lib/kafka.ts';
import { createLogger } from '../lib/logger.ts';
import { onShutdownSignal } from '../lib/shutdown.ts';
import { startServing } from '../registry/serving.ts';
import { createPublisher } from '../producers/publisher.ts';
import { buildApp } from './app.ts';
import { FeedHub } from './feed/hub.ts';
import { startPredictionsSource } from './feed/predictions-source.ts';
import { startExplanationsSource } from './feed/explanations-source.ts';

export async function runApi(cfg: Config): Promise<void> {
  const log = createLogger('api');
  await ensureTopics(cfg, SERVICE_KAFKA_WAIT(log));
  const serving = await startServing(cfg, log);
  // A request waits at most 10 s for Kafka, then answers 503 with the reason.
  const publisher = await createPublisher(cfg, {
    clientId: 'hitstream-api',
    retryForMs: Math.min(10_000, cfg.publishRetrySeconds * 1000),
    log,
  });
  const clickhouse = createClickhouse(cfg);
  const hub = new FeedHub();
  const source = await startPredictionsSource(cfg, log, (events) => hub.publish(events));
  const explanations = startExplanationsSource({
    clickhouse,
    log,
    wanted: () => hub.wantsExplanations(),
    publish: (explained) => hub.publishExplanations(explained),
  });
  const app = await buildApp({
    cfg,
    serving,
    publisher,
    clickhouse,
    hub,
    feedReady: source.ready,
    qualityMetrics: true,
  });
  await app.listen({ host: cfg.apiHost, port: cfg.apiPort });
  log.info({ url: `http://${cfg.apiHost}:${cfg.apiPort}`, docs: '/docs' }, 'API listening');
  // Each step bounded: with Kafka down, leaving the feed's group or closing the producer can hang.
  onShutdownSignal(
    log,
    (signal) => {
      log.info(
        { signal, timeoutMs: cfg.shutdownTimeoutMs },
        'stopping: closing connections (a second signal exits at once)',
      );
      const deadline = Date.now() + cfg.shutdownTimeoutMs;
      const step = (what: string, p: Promise<unknown>) =>
        Promise.race([
          p.then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), Math.max(500, deadline - Date.now())).unref()),
        ]).then((done) => done || log.warn({ what }, `${what} did not finish in time; exiting anyway`));
      void (async () => {
        explanations.stop();
        await step('closing HTTP and feed connections', app.close());
        await step('leaving the feed consumer group', source.stop());
        await step('closing the Kafka producer', publisher.close());
        await step('closing ClickHouse', clickhouse.close());
        await step('leaving the model roles topic', serving.stop());
        log.info('stopped');
        process.exit(0);
      })();
    },
    { backstopMs: cfg.shutdownTimeoutMs + 3_000 },
  );
}
