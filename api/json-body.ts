/**
 * The API's JSON body parser: the same reader as the workers' (`schemas/json-text.ts`), so a body
 * nested 5,000 levels deep is a 400 `too_deep` rather than a stack overflow later (it answered
 * 500 `internal`), and every body error has hitstream's codes.
 */
import type { FastifyInstance } from 'fastify';
import { HitstreamError } from '../lib/errors.ts';
import { parseJsonText } from '../schemas/json-text.ts';

export function useJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (!text.trim())
      return done(new HitstreamError('empty_message', 'the request body is empty'), undefined);
    const json = parseJsonText(text);
    if (json.ok) return done(null, json.value);
    done(new HitstreamError(json.code, json.message), undefined);
  });
}
