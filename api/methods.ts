/**
 * Unknown path → 404 `not_found`; known path, wrong method → 405 `method_not_allowed` with an
 * `Allow` header (HTTP's rule, and what the OpenAPI contract promises). Fastify answers both with
 * 404, so the routes are recorded as they are added and matched here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

interface RoutePattern {
  regex: RegExp;
  methods: Set<string>;
}

/** `/tracks/:id/predictions` → /^\/tracks\/[^/]+\/predictions$/ ; wildcards are left out. */
function patternOf(url: string): RegExp | undefined {
  if (url.includes('*')) return undefined; // the static files' catch-all: not a resource of ours
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${escaped}$`);
}

/** Installs the not-found handler; returns it, for requests that fail before reaching it. */
export function answerWrongMethods(
  app: FastifyInstance,
): (req: FastifyRequest, reply: FastifyReply) => FastifyReply {
  const patterns = new Map<string, RoutePattern>();
  app.addHook('onRoute', (route) => {
    const regex = patternOf(route.url);
    if (!regex) return;
    const p = patterns.get(route.url) ?? { regex, methods: new Set<string>() };
    for (const m of [route.method].flat()) p.methods.add(m.toUpperCase());
    patterns.set(route.url, p);
  });
  const notFound = (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0] ?? '/';
    const allowed = new Set<string>();
    for (const p of patterns.values()) if (p.regex.test(path)) for (const m of p.methods) allowed.add(m);
    if (allowed.size && !allowed.has(req.method)) {
      const allow = [...allowed].sort().join(', ');
      return reply
        .status(405)
        .header('allow', allow)
        .send({
          code: 'method_not_allowed',
          message: `${req.method} is not allowed on ${path}; allowed: ${allow}`,
        });
    }
    return reply.status(404).send({
      code: 'not_found',
      message: `no route ${req.method} ${path}: the endpoints are listed at /docs`,
    });
  };
  app.setNotFoundHandler(notFound);
  return notFound;
}
