import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { HttpMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The route template for metrics and logs ("unmatched" when nothing matched). */
    routeLabel: string;
    /** The upstream's gRPC code name, when an upstream was called. */
    upstreamCode: string;
    /** Calls made to the upstream when a retry made more than one (0 otherwise). */
    attempts: number;
    /** The reason a policy refused the call without calling the upstream ('' otherwise). */
    refusal: string;
    /** Set once the access line and metrics are recorded (a hang-up and onResponse may both fire). */
    accessRecorded: boolean;
  }
}

export const unmatchedLabel = 'unmatched';

/** The URL of the route that runs the route pipeline (app.ts). */
export const catchAllUrl = '/*';

/** nginx's "client closed request": the status recorded when the client hangs up first. */
const clientClosedStatus = 499;

/**
 * Per request: the X-Request-ID echo, one access log line and the request metrics.
 * Fastify's own two request log lines are turned off in favour of this one.
 */
async function httpObservability(app: FastifyInstance, { metrics }: { metrics: HttpMetrics }): Promise<void> {
  app.decorateRequest('routeLabel', '');
  app.decorateRequest('upstreamCode', '');
  app.decorateRequest('attempts', 0);
  app.decorateRequest('refusal', '');
  app.decorateRequest('accessRecorded', false);

  const record = (request: FastifyRequest, status: number, elapsedMs: number): void => {
    if (request.accessRecorded) return;
    request.accessRecorded = true;
    // A request the route pipeline never matched (refused before, or a 404) is "unmatched",
    // never the catch-all's own "/*"; the operational routes keep their path.
    const own = request.routeOptions.url;
    const route = request.routeLabel || (request.is404 || own === catchAllUrl || own === undefined ? unmatchedLabel : own);
    const seconds = elapsedMs / 1000;
    metrics.requestFinished(route, request.method, status, seconds);
    request.log.info(
      {
        method: request.method,
        route,
        client: request.clientAddress,
        status,
        latencyMs: Math.round(elapsedMs * 100) / 100,
        ...(request.upstreamCode && { upstreamCode: request.upstreamCode }),
        ...(request.attempts > 1 && { attempts: request.attempts }),
        ...(request.refusal && { refusal: request.refusal }),
      },
      'request completed',
    );
  };

  // Callback-style hooks: an async hook costs a promise and a microtask turn per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // Fastify runs onResponse only for responses that finished; a client that hangs up first
    // still gets its access line and metric, as 499 (a turn later, once the cancelled upstream
    // call has reported its code).
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      const elapsedMs = reply.elapsedTime;
      setImmediate(() => record(request, clientClosedStatus, elapsedMs));
    });
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    record(request, reply.statusCode, reply.elapsedTime);
    done();
  });
}

// The access line carries request.clientAddress, which that plugin's first hook sets.
export default fp(httpObservability, { name: 'portico-http-observability', dependencies: ['portico-client-address'] });
