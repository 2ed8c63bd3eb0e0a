/**
 * An in-process scorer worker, publisher and API (optionally with the live feed) on an isolated
 * pipeline: what the API, web and drift tests share.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../api/app.ts';
import { FeedHub } from '../../api/feed/hub.ts';
import { startExplanationsSource } from '../../api/feed/explanations-source.ts';
import { startPredictionsSource } from '../../api/feed/predictions-source.ts';
import type { Config } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { loadModels, type LoadedModels } from '../../models/model-set.ts';
import { createPublisher, type Publisher } from '../../producers/publisher.ts';
import { createWorkerMetrics } from '../../scorers/metrics.ts';
import { createWorker } from '../../scorers/worker.ts';
import type { isolatedPipeline } from './services.ts';

export interface ScoringApp {
  models: LoadedModels;
  publisher: Publisher;
  app: FastifyInstance;
  hub: FeedHub;
  /** http://127.0.0.1:port when listening. */
  base: string;
  stop(): Promise<void>;
}

export async function startScoringApp(
  p: Awaited<ReturnType<typeof isolatedPipeline>>,
  opts: { feed?: boolean; listen?: boolean; cfg?: Partial<Config>; qualityMetrics?: boolean } = {},
): Promise<ScoringApp> {
  const models = await loadModels(p.cfg.modelsDir || undefined);
  const worker = createWorker(
    { ...p.cfg, ...opts.cfg },
    {
      models,
      metrics: createWorkerMetrics(),
      log: createLogger('test-worker', 'warn'),
    },
  );
  await worker.start();
  const publisher = await createPublisher(p.cfg);
  const hub = new FeedHub();
  const source = opts.feed
    ? await startPredictionsSource(p.cfg, createLogger('test-feed', 'warn'), (e) => hub.publish(e))
    : undefined;
  const explanations = opts.feed
    ? startExplanationsSource({
        clickhouse: p.client,
        log: createLogger('test-feed', 'warn'),
        wanted: () => hub.wantsExplanations(),
        publish: (explained) => hub.publishExplanations(explained),
      })
    : undefined;
  const app = await buildApp({
    cfg: { ...p.cfg, logLevel: 'warn', ...opts.cfg },
    models,
    publisher,
    clickhouse: p.client,
    hub,
    feedReady: source ? source.ready : () => true,
    qualityMetrics: opts.qualityMetrics,
  });
  let base = '';
  if (opts.listen) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }
  return {
    models,
    publisher,
    app,
    hub,
    base,
    async stop() {
      explanations?.stop();
      await app.close();
      await source?.stop();
      await publisher.close();
      await worker.stop();
    },
  };
}
