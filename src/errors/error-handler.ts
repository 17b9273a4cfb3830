import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { badRequestDetail, errorEnvelope, GatewayError } from './gateway-error.js';
import { codeName } from './status-codes.js';

/**
 * The one place errors become responses: every error, whoever raised it, leaves as the
 * envelope with the request id. Causes are logged, never sent.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => sendError(request, reply, normalise(err)));
  app.setNotFoundHandler((request, reply) => {
    const path = (request.raw.url ?? '/').split('?')[0];
    return sendError(request, reply, GatewayError.http(404, `no route for ${request.method} ${path}`));
  });
}

function normalise(err: FastifyError): GatewayError {
  if (err.validation) {
    const context = err.validationContext ?? 'request';
    const violations = collapseAlternatives(err.validation).map((v) => ({
      field: fieldPath(context, v.instancePath, v.params),
      description: v.message ?? 'is invalid',
    }));
    const summary = violations
      .slice(0, 3)
      .map((v) => `${v.field}: ${v.description}`)
      .join('; ');
    return GatewayError.http(400, `invalid request: ${summary}${violations.length > 3 ? '; …' : ''}`, [badRequestDetail(violations)]);
  }
  return GatewayError.from(err);
}

/**
 * Ajv reports a failed anyOf/oneOf once per alternative and once for itself, which would list
 * the same field several times; the client gets one violation per field. A union of literals
 * (TypeBox's Type.Union of Type.Literal) names its allowed values instead of "must match a
 * schema in anyOf".
 */
function collapseAlternatives(errors: readonly FastifySchemaValidationError[]): readonly FastifySchemaValidationError[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  if (unions.length === 0) return errors;
  const within = (union: FastifySchemaValidationError) => (e: FastifySchemaValidationError) => e.schemaPath.startsWith(`${union.schemaPath}/`);
  return errors
    .filter((e) => !unions.some((union) => within(union)(e)))
    .map((e) => {
      if (!unions.includes(e)) return e;
      const alternatives = errors.filter(within(e));
      const allowed = alternatives.filter((a) => a.keyword === 'const').map((a) => a.params['allowedValue']);
      if (allowed.length === 0 || allowed.length !== alternatives.length) return e;
      return { ...e, message: `must be one of ${allowed.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}` };
    });
}

/** "/investor_id" in querystring → "investor_id"; a missing property names itself. */
function fieldPath(context: string, instancePath: string, params: Record<string, unknown>): string {
  const base = instancePath.replace(/^\//, '').replace(/\//g, '.');
  const named = params['missingProperty'] ?? params['additionalProperty'];
  const field = typeof named === 'string' ? (base ? `${base}.${named}` : named) : base;
  return field || context;
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
 * the rest, and an outage must not flood the log with stacks of the gateway's code. A stack
 * helps only with the gateway's own failures. 4xx answers are the client's business: debug.
 */
function logError(request: FastifyRequest, err: GatewayError): void {
  if (err.httpStatus < 500) {
    request.log.debug({ err: err.cause ?? err, status: err.status }, err.message);
  } else if (err.upstream !== undefined) {
    request.log.warn({ status: err.status, upstreamCode: codeName(err.upstream.code), upstreamMessage: err.upstream.message }, err.message);
  } else {
    request.log.error({ err: err.cause ?? err, status: err.status }, err.message);
  }
}

/**
 * Errors Node's HTTP parser raises before Fastify sees a request (headers over 16 KiB,
 * malformed requests) still get the envelope.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const gatewayError = tooLarge
    ? GatewayError.http(431, 'request headers are too large (16 KiB at most)')
    : GatewayError.http(400, 'malformed HTTP request');
  const requestId = randomUUID();
  const body = JSON.stringify(errorEnvelope(gatewayError, requestId));
  socket.end(
    `HTTP/1.1 ${gatewayError.httpStatus} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}
