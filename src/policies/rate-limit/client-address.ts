import type { FastifyRequest } from 'fastify';

/**
 * The address rate limits key a client by. The one place that decides it: the socket's peer
 * for now (request.ip); behind trusted proxies, the address they report.
 */
export function clientAddress(request: FastifyRequest): string {
  return request.ip;
}
