/** Who may call what: the API key for writes, and (optionally) for reads. */
import type { FastifyReply } from 'fastify';

export interface Access {
  write: (key: string | string[] | undefined) => boolean;
  read: (key: string | string[] | undefined) => boolean;
  /** An API key is configured (so 401 is a documented answer). */
  keyed: boolean;
}

export const unauthorized = (reply: FastifyReply) =>
  reply.status(401).send({ code: 'unauthorized', message: 'this endpoint needs header x-api-key' });
