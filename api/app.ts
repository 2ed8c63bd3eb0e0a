/**
 * The Fastify app, built from its dependencies so tests can inject fakes of nothing but the
 * network: routes, OpenAPI at /docs (the contract: every status a route can answer is in it,
 * checked by schemathesis in the integration suite), CORS, API key, rate limits, the web pages
 * and /feed.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../lib/config.ts';
import type { LoadedModels } from '../models/model-set.ts';
import { type Serving, servingOf } from '../registry/serving.ts';
import type { Publisher } from '../producers/publisher.ts';
import { HealthResponse } from '../schemas/api.ts';
import { errorHandlerWith } from './errors.ts';
import type { FeedHub } from './feed/hub.ts';
import { attachFeed } from './feed/socket.ts';
import { useJsonBodyParser } from './json-body.ts';
import { answerWrongMethods } from './methods.ts';
import { keyMatcher, useRateLimits } from './protection.ts';
import { driftRoutes } from './routes/drift.ts';
import { modelRoutes } from './routes/models.ts';
import { autopilotRoutes } from './routes/autopilot.ts';
import { predictRoutes } from './routes/predict.ts';
import { explainRoutes } from './routes/explain.ts';
import { trackExplanationRoutes } from './routes/track-explanation.ts';
import { trackRoutes } from './routes/tracks.ts';
import { labelRoutes } from './routes/labels.ts';
import { type StorageReader, storageReader } from './storage.ts';
import { dashboardRoutes } from './routes/dashboards.ts';
import { alertRoutes } from './routes/alerts.ts';
import { servingMetrics } from '../registry/serving-metrics.ts';
import { startQualityExporter } from './quality/exporter.ts';
import { monitoringProbe } from './quality/monitoring-probe.ts';
import { Type } from '@sinclair/typebox';

export interface AppDeps {
  cfg: Config;
  /** The versions served (live, shadow); or a fixed set of models, served as version `local`. */
  serving?: Serving;
  models?: LoadedModels;
  publisher: Publisher;
  clickhouse: ClickHouseClient;
  /** How the routes read ClickHouse (default: through `clickhouse`); a seam for other engines. */
  storage?: StorageReader;
  hub: FeedHub;
  feedReady: () => boolean;
  /** Compute the model-quality series for /metrics from ClickHouse (the API process does; tests may). */
  qualityMetrics?: boolean;
}

/**
 * Fastify's pair of lines per request, at debug instead of info: at info they filled the
 * terminal of `npm start` (the Live page alone polls twice every 10 s). Errors keep their level.
 */
class QuietRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest) {
    request.log.debug({ method: request.method, url: request.url }, 'incoming request');
  }
  override requestCompleted(error: Error | null, request: FastifyRequest, reply: FastifyReply) {
    if (error) super.requestCompleted(error, request, reply);
    else
      reply.log.debug({ status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
  }
}

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { cfg } = deps;
  const serving = deps.serving ?? servingOf(deps.models!);
  const app = Fastify({
    logger: { level: cfg.logLevel },
    logController: new QuietRequestLogs(),
    bodyLimit: 1024 * 1024,
    // A track id is up to 128 characters, ~1.5 KB percent-encoded; Fastify's default of 100
    // answered longer ones 404 as if the route did not exist.
    routerOptions: { maxParamLength: 2048 },
  });
  app.setErrorHandler(errorHandlerWith(answerWrongMethods(app)));
  useJsonBodyParser(app);
  await app.register(cors, { origin: cfg.corsOrigin ? cfg.corsOrigin.split(',') : false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'hitstream API',
        version: '0.1.0',
        description: 'Popularity predictions for music tracks',
      },
      components: {
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await useRateLimits(app);
  const metrics = requestMetrics(app);

  const keyOk = keyMatcher(cfg.apiKey);
  const access = { write: keyOk, read: cfg.apiKeyForReads ? keyOk : () => true, keyed: Boolean(cfg.apiKey) };
  const storage = deps.storage ?? storageReader(deps.clickhouse, cfg);
  await app.register(predictRoutes(serving, cfg));
  await app.register(explainRoutes(serving, cfg));
  await app.register(trackExplanationRoutes({ serving, storage, access, cfg }));
  await app.register(trackRoutes({ publisher: deps.publisher, storage, access, cfg }));
  await app.register(labelRoutes({ publisher: deps.publisher, storage, access, cfg }));
  await app.register(modelRoutes(serving));
  await app.register(autopilotRoutes({ storage, access, cfg }));
  await app.register(driftRoutes({ storage, serving, access }));
  await app.register(dashboardRoutes({ storage, access }));
  await app.register(
    alertRoutes({ cfg, clickhouse: deps.clickhouse, storage, publisher: deps.publisher, access }),
  );
  const recordServing = servingMetrics(metrics);
  const quality = !deps.qualityMetrics
    ? undefined
    : startQualityExporter({
        storage,
        serving,
        registry: metrics,
        intervalSeconds: cfg.qualityIntervalSeconds,
        windowSeconds: cfg.qualityWindowSeconds,
        log: app.log,
        // The estimates' history: the drift dashboard's panel and `alerts calibrate` read it.
        storeEstimates: async (values) => {
          if (values.length)
            await deps.clickhouse.insert({ table: 'error_estimates', values, format: 'JSONEachRow' });
        },
      });
  app.addHook('onClose', (_app, done) => (quality?.stop(), done()));
  const monitoring = monitoringProbe(cfg);

  app.get(
    '/health',
    {
      schema: {
        summary: 'Ready when Kafka, ClickHouse and the models are',
        response: { 200: HealthResponse, 503: HealthResponse },
      },
    },
    async (_req, reply) => {
      const [clickhouse, monitor] = await Promise.all([
        deps.clickhouse
          .ping()
          .then((p) => p.success)
          .catch(() => false),
        monitoring(),
      ]);
      // Monitoring that is down is reported, and never makes the API unready: scoring goes on.
      const body = {
        ready: clickhouse && deps.feedReady(),
        kafka: deps.feedReady(),
        clickhouse,
        models: serving.status(),
        feed_clients: deps.hub.size,
        monitoring: monitor,
      };
      return reply.status(body.ready ? 200 : 503).send(body);
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    recordServing(serving.status());
    return reply.type(metrics.contentType).send(await metrics.metrics());
  });
  app.get(
    '/live',
    {
      schema: {
        summary: 'Alive while the event loop answers (the liveness probe); never asks Kafka or ClickHouse',
        response: { 200: Type.Object({ alive: Type.Boolean() }) },
      },
    },
    () => ({ alive: true }),
  );

  await app.register(fastifyStatic, { root: WEB_DIR, prefix: '/', schemaHide: true });
  // The dashboards page's charting library, from node_modules: no CDN.
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/vendor/uplot/',
    schemaHide: true,
    decorateReply: false,
    allowedPath: (path) => path === '/uPlot.iife.min.js' || path === '/uPlot.min.css',
  });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect('/live.html'));
  // Browsers ask for /favicon.ico on pages that name none (the API docs): a 404 there was a
  // console error on every page.
  app.get('/favicon.ico', { schema: { hide: true } }, (_req, reply) => reply.redirect('/favicon.svg'));

  attachFeed(app, deps.hub, { maxClients: cfg.feedMaxClients, keyOk: access.read });
  return app;
}

/** Prometheus counters and durations per route, on a registry of the API's own. */
function requestMetrics(app: FastifyInstance): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hitstream_api_' });
  const requests = new Counter({
    name: 'hitstream_api_requests_total',
    help: 'HTTP requests',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'hitstream_api_request_ms',
    help: 'HTTP request duration, ms',
    labelNames: ['route'],
    buckets: [1, 2, 5, 10, 20, 50, 100, 500],
    registers: [registry],
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime);
    done();
  });
  return registry;
}
