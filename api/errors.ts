import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HitstreamError } from '../lib/errors.ts';
import type { ApiError } from '../schemas/api.ts';

/** Fastify's schema errors and hitstream's own, as `{ code, message, field }` JSON. */
export function errorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
  if (err.validation?.length) {
    const v = err.validation[0]!;
    const missing = (v.params as { missingProperty?: string; additionalProperty?: string }) ?? {};
    const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const field = missing.missingProperty ?? missing.additionalProperty ?? path;
    const message = missing.missingProperty
      ? `${field} is required`
      : missing.additionalProperty
        ? `${field} is not a known field`
        : `${field || err.validationContext || 'body'} ${v.message ?? 'is invalid'}`;
    return reply.status(400).send({ code: 'invalid_request', message, field } satisfies ApiError);
  }
  if (err instanceof HitstreamError)
    return reply.status(err.retriable ? 503 : 400).send({
      code: err.code,
      message: err.message,
      ...(err.field ? { field: err.field } : {}),
    } satisfies ApiError);
  if (err.statusCode && err.statusCode < 500)
    return reply
      .status(err.statusCode)
      .send({ code: err.code ?? 'bad_request', message: err.message } satisfies ApiError);
  reply.log.error({ err }, 'unhandled error');
  return reply
    .status(500)
    .send({ code: 'internal', message: 'internal error; see the API log' } satisfies ApiError);
}
