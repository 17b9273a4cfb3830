import type { FastifyInstance } from 'fastify';
import type { Readiness } from './readiness.js';

/**
 * Liveness and readiness for Kubernetes. Readiness reflects only this process (serving or
 * draining), never an upstream's health: if it did, one failing upstream would pull every
 * replica out of the load balancer at once.
 */
export async function healthRoutes(app: FastifyInstance, { readiness }: { readiness: Readiness }): Promise<void> {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    if (readiness.draining) return reply.code(503).send({ status: 'draining' });
    return { status: 'ready', routesVersion: readiness.routesVersion() };
  });
}
