import type { FastifyInstance } from 'fastify';
import type { ServiceStatus } from '../upstreams/upstream-pool.js';
import type { Readiness } from './readiness.js';

export interface HealthRoutesOptions {
  readiness: Readiness;
  /** The services in force with their replicas and breaker, shown in /readyz's body. */
  services: () => readonly ServiceStatus[];
}

/**
 * Liveness and readiness for Kubernetes. Readiness reflects only this process (serving or
 * draining), never an upstream's health: if it did, one failing upstream would pull every
 * replica out of the load balancer at once. The upstreams' state is in the body, for people.
 */
export async function healthRoutes(app: FastifyInstance, { readiness, services }: HealthRoutesOptions): Promise<void> {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_request, reply) => {
    if (readiness.draining) return reply.code(503).send({ status: 'draining', services: services() });
    return { status: 'ready', routesVersion: readiness.routesVersion(), services: services() };
  });
}
