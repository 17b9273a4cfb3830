import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorEnvelope, GatewayError } from './gateway-error.js';
import { codeName } from './status-codes.js';

/**
 * The one place errors become responses: every error, whoever raised it, leaves as the
 * envelope with the request id. Causes are logged, never sent. `unrouted` says why a request
 * no route took has none, by throwing a GatewayError (a 405 with Allow on a known path);
 * otherwise it is a 404.
 */
export function installErrorHandling(app: FastifyInstance, unrouted: (method: string, path: string) => unknown): void {
  // Request validation is the route pipeline's (no Fastify route has a schema), so nothing here is Ajv's.
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(request, reply, GatewayError.from(err)));
  app.setNotFoundHandler((request, reply) => {
    const path = (request.raw.url ?? '/').split('?')[0]!;
    try {
      unrouted(request.method, path);
    } catch (err) {
      if (err instanceof GatewayError) return sendError(request, reply, err);
    }
    return sendError(request, reply, GatewayError.http(404, `no route for ${request.method} ${path}`));
  });
}

/**
 * Errors Fastify's router raises before any hook runs, such as a malformed percent-escape in the
 * path (FST_ERR_BAD_URL): the envelope and the X-Request-ID header like every other response.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const gatewayError = err.code === 'FST_ERR_BAD_URL' ? GatewayError.http(400, 'malformed path: invalid percent-encoding') : GatewayError.from(err);
  sendError(request, reply, gatewayError);
}

export function sendError(request: FastifyRequest, reply: FastifyReply, err: GatewayError): FastifyReply {
  logError(request, err);
  if (err.headers) reply.headers(err.headers);
  return reply.code(err.httpStatus).type('application/json; charset=utf-8').send(errorEnvelope(err, request.id));
}

/**
 * An upstream's failure is one warn line with its code and words, no stack: the access line has
 * the rest, and an outage must not flood the log with stacks of the gateway's code. So is a 5xx
 * the gateway answers on purpose (shutting down, a cap reached): it has no cause. A stack helps
 * only with the gateway's own failures, whose cause is what was thrown. 4xx answers are the
 * client's business: debug.
 */
function logError(request: FastifyRequest, err: GatewayError): void {
  if (err.httpStatus < 500) {
    request.log.debug({ err: err.cause ?? err, status: err.status }, err.message);
  } else if (err.upstream !== undefined) {
    request.log.warn({ status: err.status, upstreamCode: codeName(err.upstream.code), upstreamMessage: err.upstream.message }, err.message);
  } else if (err.cause === undefined) {
    request.log.warn({ status: err.status }, err.message);
  } else {
    request.log.error({ err: err.cause ?? err, status: err.status }, err.message);
  }
}
