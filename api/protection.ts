/**
 * What keeps one client from hurting the others: rate limits on the endpoints that cost work
 * (`POST /tracks`, `POST /predict`), and the API key, compared in constant time so that its
 * bytes cannot be guessed one by one from response times.
 */
import rateLimit from '@fastify/rate-limit';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../lib/config.ts';

/** True when `given` is the configured key (or no key is configured). */
export function keyMatcher(expected: string): (given: string | string[] | undefined) => boolean {
  if (!expected) return () => true;
  // Digests have equal length whatever was sent, which timingSafeEqual needs.
  const want = createHash('sha256').update(expected).digest();
  return (given) =>
    typeof given === 'string' && timingSafeEqual(createHash('sha256').update(given).digest(), want);
}

/**
 * Registers @fastify/rate-limit without a global limit; routes opt in with `rateLimited(cfg)`.
 * A request over the limit gets 429 `rate_limited` with `Retry-After` (seconds).
 */
export async function useRateLimits(app: FastifyInstance): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      code: 'rate_limited',
      message: `more than ${ctx.max} requests per ${ctx.after === '1 second' ? 'second' : ctx.after} from this client: retry after ${Math.ceil(ctx.ttl / 1000)} s (limit: HITSTREAM_RATE_LIMIT)`,
    }),
  });
}

/** Route options for a rate-limited route; none when the limit is off (0). */
export const rateLimited = (cfg: Config) =>
  cfg.rateLimitPerSecond > 0
    ? { config: { rateLimit: { max: cfg.rateLimitPerSecond, timeWindow: 1000 } } }
    : {};
