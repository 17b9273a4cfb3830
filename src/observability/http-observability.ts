import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The route template for metrics and logs ("unmatched" when nothing matched). */
    routeLabel: string;
    /** The upstream's gRPC code name, when an upstream was called. */
    upstreamCode: string;
  }
}

export const unmatchedLabel = 'unmatched';

/**
 * Per request: the X-Request-ID echo, one access log line and the request metrics.
 * Fastify's own two request log lines are turned off in favour of this one.
 */
async function httpObservability(app: FastifyInstance, { metrics }: { metrics: GatewayMetrics }): Promise<void> {
  app.decorateRequest('routeLabel', '');
  app.decorateRequest('upstreamCode', '');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeLabel || (request.is404 ? unmatchedLabel : (request.routeOptions.url ?? unmatchedLabel));
    const seconds = reply.elapsedTime / 1000;
    metrics.requestFinished(route, request.method, reply.statusCode, seconds);
    request.log.info(
      {
        method: request.method,
        route,
        status: reply.statusCode,
        latencyMs: Math.round(reply.elapsedTime * 100) / 100,
        ...(request.upstreamCode && { upstreamCode: request.upstreamCode }),
      },
      'request completed',
    );
  });
}

export default fp(httpObservability, { name: 'portico-http-observability' });
