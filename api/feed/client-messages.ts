/**
 * Messages from live-feed clients, checked like every other input: a bad one is answered with an
 * error naming the field (and leaves the client's filters as they were), never taken half-way.
 * Before, `{"min_score": "x"}` was accepted and silently filtered nothing.
 */
import { FeedSubscribe } from '../../schemas/feed.ts';
import { decodeUtf8, parseJsonText } from '../../schemas/json-text.ts';
import { validate } from '../../schemas/validate.ts';
import type { Filter } from './hub.ts';

export type ClientMessageResult =
  | { ok: true; filter: Filter; reply: object }
  | { ok: false; reply: { type: 'error'; code: string; field?: string; message: string } };

const USAGE = 'send {"type":"subscribe","genre"?,"model"?,"min_score"?,"shadow"?,"explanations"?}';

export function readClientMessage(data: Buffer): ClientMessageResult {
  const text = decodeUtf8(data);
  if (!text.ok)
    return {
      ok: false,
      reply: { type: 'error', code: 'invalid_text', message: `${text.message}: ${USAGE}` },
    };
  const json = parseJsonText(text.text);
  if (!json.ok)
    return {
      ok: false,
      reply: {
        type: 'error',
        code: json.code,
        message: `${json.code === 'too_deep' ? json.message : 'not JSON'}: ${USAGE}`,
      },
    };
  let m = json.value;
  // A null filter is one left out (what the Live page sends for an empty form field).
  if (typeof m === 'object' && m !== null && !Array.isArray(m))
    m = Object.fromEntries(Object.entries(m).filter(([, value]) => value !== null));
  const v = validate(FeedSubscribe, m);
  if (!v.ok) {
    const e = v.errors[0]!;
    return {
      ok: false,
      reply: { type: 'error', code: e.code, field: e.field, message: `${e.message}; ${USAGE}` },
    };
  }
  const { genre, model, min_score, shadow, explanations } = v.value;
  return {
    ok: true,
    filter: {
      genre: genre || undefined,
      model,
      minScore: min_score,
      shadow: shadow === true,
      explanations: explanations === true,
    },
    reply: {
      type: 'subscribed',
      genre: genre || null,
      model: model ?? null,
      min_score: min_score ?? null,
      shadow: shadow === true,
      explanations: explanations === true,
    },
  };
}
