/**
 * The autopilot's HTTP side: Alertmanager's webhook (POST /webhook, which needs the shared secret
 * as `Authorization: Bearer …`), GET /status, GET /metrics for Prometheus, GET /health.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import type { AlertmanagerPayload } from './triggers.ts';

const sameSecret = (given: string, secret: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
};

export function buildAutopilotServer(deps: {
  secret: string;
  onAlerts: (payload: AlertmanagerPayload) => number;
  status: () => unknown;
  registry: Registry;
}) {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.post('/webhook', async (req, reply) => {
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!given || !sameSecret(given, deps.secret))
      return reply.code(401).send({
        error: 'unauthorized',
        message:
          'the autopilot webhook needs its secret as `Authorization: Bearer SECRET` (HITSTREAM_AUTOPILOT_SECRET; Alertmanager: http_config.authorization.credentials)',
      });
    const body = req.body as AlertmanagerPayload | undefined;
    if (!body || typeof body !== 'object' || !Array.isArray(body.alerts))
      return reply.code(400).send({
        error: 'bad_request',
        field: 'alerts',
        message: 'alerts: expected Alertmanager webhook JSON with an alerts array',
      });
    return { heard: deps.onAlerts(body) };
  });
  app.get('/status', () => deps.status());
  app.get('/health', () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
  );
  return app;
}
