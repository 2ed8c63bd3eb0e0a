/**
 * The Fastify app, built from its dependencies so tests can inject fakes of nothing but the
 * network: routes, OpenAPI at /docs, CORS, API key on write endpoints, the web pages and /feed.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import cors from '@fastify/cors';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../lib/config.ts';
import type { LoadedModels } from '../models/registry.ts';
import type { Publisher } from '../producers/publisher.ts';
import { errorHandler } from './errors.ts';
import { useJsonBodyParser } from './json-body.ts';
import { storageReader } from './storage.ts';
import { readClientMessage } from './feed/client-messages.ts';
import type { FeedHub } from './feed/hub.ts';
import { type FeedClient } from './feed/hub.ts';
import { driftRoutes } from './routes/drift.ts';
import { modelRoutes } from './routes/models.ts';
import { predictRoutes } from './routes/predict.ts';
import { trackRoutes } from './routes/tracks.ts';

export interface AppDeps {
  cfg: Config;
  models: LoadedModels;
  publisher: Publisher;
  clickhouse: ClickHouseClient;
  hub: FeedHub;
  feedReady: () => boolean;
}

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: deps.cfg.logLevel }, bodyLimit: 1024 * 1024 });
  app.setErrorHandler(errorHandler);
  useJsonBodyParser(app);
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({
      code: 'not_found',
      message: `no route ${req.method} ${req.url.split('?')[0]}: the endpoints are listed at /docs`,
    }),
  );
  await app.register(cors, {
    origin: deps.cfg.corsOrigin ? deps.cfg.corsOrigin.split(',') : false,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'hitstream API',
        version: '0.1.0',
        description: 'Popularity predictions for music tracks',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

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

  const requireKey = (key: string | undefined) => !deps.cfg.apiKey || key === deps.cfg.apiKey;
  await app.register(predictRoutes(deps.models));
  const storage = storageReader(deps.clickhouse, deps.cfg);
  await app.register(trackRoutes({ publisher: deps.publisher, storage, requireKey }));
  await app.register(modelRoutes(deps.models));
  await app.register(driftRoutes({ storage, models: deps.models }));

  app.get(
    '/health',
    { schema: { summary: 'Ready when Kafka, ClickHouse and the models are' } },
    async (_req, reply) => {
      const clickhouse = await deps.clickhouse
        .ping()
        .then((p) => p.success)
        .catch(() => false);
      const body = {
        ready: clickhouse && deps.feedReady(),
        kafka: deps.feedReady(),
        clickhouse,
        models: true,
        feed_clients: deps.hub.size,
      };
      return reply.status(body.ready ? 200 : 503).send(body);
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );

  await app.register(fastifyStatic, { root: WEB_DIR, prefix: '/' });
  app.get('/', (_req, reply) => reply.redirect('/live.html'));

  attachFeed(app, deps.hub);
  return app;
}

/** /feed: WebSocket clients of the hub, with subscribe filters and heartbeats. */
function attachFeed(app: FastifyInstance, hub: FeedHub): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  app.server.on('upgrade', (req, socket, head) => {
    if (!req.url?.startsWith('/feed')) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, socket));
  });
  const alive = new WeakSet<WebSocket>();
  wss.on('connection', (ws: WebSocket, socket: Duplex) => {
    const client: FeedClient = {
      // A Buffer goes out as a text frame as it is (ws would otherwise encode each send anew).
      send: (t) => ws.send(t, { binary: false }),
      bufferedAmount: () => ws.bufferedAmount,
      batch(sends) {
        socket.cork();
        try {
          sends();
        } finally {
          socket.uncork();
        }
      },
    };
    hub.add(client);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data) => {
      const m = readClientMessage(Buffer.from(data as Buffer));
      if (m.ok) hub.setFilter(client, m.filter);
      ws.send(JSON.stringify(m.reply));
    });
    ws.on('close', () => hub.remove(client));
    ws.send(
      JSON.stringify({
        type: 'hello',
        message: 'subscribe with {"type":"subscribe","genre":"pop","model":"xgb","min_score":50}',
      }),
    );
  });
  // Heartbeats: a client that missed a ping round is gone; slow sockets get drained on a timer too.
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) ws.terminate();
      else {
        alive.delete(ws);
        ws.ping();
      }
    }
  }, 15_000);
  const drain = setInterval(() => hub.flushAll(), 50);
  app.addHook('onClose', (_app, done) => {
    clearInterval(heartbeat);
    clearInterval(drain);
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => done());
  });
}
