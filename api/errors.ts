import type { TSchema } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { HitstreamError } from '../lib/errors.ts';
import type { ApiError } from '../schemas/api.ts';
import { type FieldError, validate } from '../schemas/validate.ts';

/** A request body that fails its schema: every field at fault, not only the first. */
export class InvalidBody extends HitstreamError {
  constructor(readonly errors: FieldError[]) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more in errors)` : '';
    super('invalid_request', `${errors[0]?.message ?? 'invalid body'}${more}`, { field: errors[0]?.field });
  }
}

/**
 * Validates a route's body with hitstream's own validator (`schemas/validate.ts`) instead of
 * Fastify's Ajv, whose defaults silently drop unknown fields (`{"genre": "pop"}` scored as no genre)
 * and turn "120" into 120, and which stops at the first error. Same rules and codes as
 * `POST /tracks`, the CLI and the dead letters.
 */
export const strictBody =
  (schemas: { body: TSchema; querystring?: TSchema }): FastifySchemaCompiler<unknown> =>
  ({ httpPart }) =>
  (data) => {
    // A route's compiler checks every part of the request; each against its own schema.
    const parts: Record<string, TSchema | undefined> = {
      body: schemas.body,
      querystring: schemas.querystring,
    };
    const schema = parts[String(httpPart)];
    if (!schema) return { value: data as unknown };
    const v = validate(schema, data);
    return v.ok ? { value: v.value } : { error: new InvalidBody(v.errors) };
  };

/** Fastify's body-parsing errors under the codes the rest of hitstream uses. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty_message',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
};

const STATUS_CODES: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'body_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/** Errors of ours that are the server's state, not the request's: 503, the client may retry later. */
const SERVER_SIDE = new Set(['schema_missing', 'storage_auth', 'storage_error', 'kafka_refused']);

/**
 * Fastify's schema errors and hitstream's own, as `{ code, message, field }` JSON. A request that
 * matched no route and still failed (a QUERY without a content type is refused before routing)
 * gets the not-found answer: 404, or 405 for a path that exists.
 */
export const errorHandlerWith =
  (notFound: (req: FastifyRequest, reply: FastifyReply) => FastifyReply) =>
  (err: FastifyError, req: FastifyRequest, reply: FastifyReply) =>
    req.is404 ? notFound(req, reply) : errorHandler(err, req, reply);

function errorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply) {
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
    return reply.status(err.status ?? (err.retriable || SERVER_SIDE.has(err.code) ? 503 : 400)).send({
      code: err.code,
      message: err.message,
      ...(err.field ? { field: err.field } : {}),
      ...(err instanceof InvalidBody ? { errors: err.errors } : {}),
    } satisfies ApiError);
  if (err.statusCode && err.statusCode < 500) {
    // A plugin's own code (FST_STATIC_FORBIDDEN_PATH for a path with odd bytes, …) is not one
    // of ours: such errors get the code of their status, so every body has hitstream's shape.
    const code = FASTIFY_CODES[err.code] ?? (err.code?.startsWith('FST_') ? undefined : err.code);
    const status = err.code === 'FST_STATIC_FORBIDDEN_PATH' ? 404 : err.statusCode;
    return reply.status(status).send({
      code: code ?? STATUS_CODES[status] ?? 'bad_request',
      message: status === 404 ? 'no such file or route: the endpoints are listed at /docs' : err.message,
    } satisfies ApiError);
  }
  reply.log.error({ err }, 'unhandled error');
  return reply
    .status(500)
    .send({ code: 'internal', message: 'internal error; see the API log' } satisfies ApiError);
}
