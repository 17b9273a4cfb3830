import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const acceptable = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Fastify's genReqId: keeps a caller's X-Request-ID when it is 1-128 characters of
 * [A-Za-z0-9._:-] (safe in logs and metadata), otherwise makes a new one. Never rejects.
 */
export function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && acceptable.test(header) ? header : randomUUID();
}
