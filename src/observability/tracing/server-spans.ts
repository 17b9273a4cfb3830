import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
} from '@opentelemetry/semantic-conventions';
import type { Attributes } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { routeLabelOf, unmatchedLabel } from '../http-observability.js';
import { bindTraceId } from '../trace-id-log.js';
import type { Tracing } from './tracing.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's server span, as the parent of its client spans (set only with tracing on). */
    traceContext?: Context;
    /** The request's trace id, in its log lines and error envelope (set only with tracing on). */
    traceId?: string;
  }
}

/** The methods HTTP semantic conventions name; any other is `_OTHER` (a custom HttpRule verb, say). */
const knownMethods = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE']);

/**
 * Liveness and readiness probes (lifecycle/health-routes.ts) and Prometheus scrapes (app.ts):
 * a steady stream the gateway answers itself, which would crowd every trace view and cost
 * span exports. OpenTelemetry's HTTP instrumentations leave them out the same way.
 */
const untracedPaths: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One server span per request but probes and scrapes (above), registered only with tracing on
 * (app.ts), before every hook but the client address's, so that refusals are traced too. A
 * client's traceparent continues its trace; its sampled flag is followed. The span is named by
 * method and route template (`GET /v1/items/{id}`, never the raw path) once the route is
 * known, and ends when the response does: a 5xx marks it ERROR. The trace id joins every log
 * line of the request (observability/trace-id-log.ts).
 */
async function serverSpans(app: FastifyInstance, { tracing }: { tracing: Tracing }): Promise<void> {
  app.decorateRequest('traceContext', undefined);
  app.decorateRequest('traceId', undefined);

  app.addHook('onRequest', (request, reply, done) => {
    const url = request.raw.url ?? '/';
    const queryStart = url.indexOf('?');
    if (untracedPaths.has(queryStart < 0 ? url : url.slice(0, queryStart))) return done();
    const method = knownMethods.has(request.method) ? request.method : HTTP_REQUEST_METHOD_VALUE_OTHER;
    const span = tracing.tracer.startSpan(method === HTTP_REQUEST_METHOD_VALUE_OTHER ? 'HTTP' : method, { kind: SpanKind.SERVER }, tracing.extract(request.headers));
    // A sampled-out span records nothing: its attributes are not even computed.
    if (span.isRecording()) span.setAttributes(requestAttributes(request, method));
    const traceId = span.spanContext().traceId;
    request.traceContext = trace.setSpan(ROOT_CONTEXT, span);
    request.traceId = traceId;
    bindTraceId(request.log, traceId);
    // 'close' follows a complete response and a client's hang-up alike.
    reply.raw.once('close', () => endServerSpan(span, request, reply));
    done();
  });
}

function requestAttributes(request: FastifyRequest, method: string): Attributes {
  const url = request.raw.url ?? '/';
  const queryStart = url.indexOf('?');
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: queryStart < 0 ? url : url.slice(0, queryStart),
    [ATTR_URL_SCHEME]: request.protocol,
    [ATTR_SERVER_ADDRESS]: request.hostname,
    [ATTR_NETWORK_PROTOCOL_VERSION]: request.raw.httpVersion,
  };
  if (request.clientAddress !== undefined) attributes[ATTR_CLIENT_ADDRESS] = request.clientAddress;
  if (request.port !== null) attributes[ATTR_SERVER_PORT] = request.port;
  if (method === HTTP_REQUEST_METHOD_VALUE_OTHER) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = request.method;
  const userAgent = request.headers['user-agent'];
  if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
  return attributes;
}

/** Names the span by its route and records the answer; a client that hung up leaves no status code. */
function endServerSpan(span: Span, request: FastifyRequest, reply: FastifyReply): void {
  if (!span.isRecording()) return;
  const route = routeLabelOf(request);
  if (route !== unmatchedLabel) {
    span.updateName(`${knownMethods.has(request.method) ? request.method : 'HTTP'} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  if (reply.raw.writableFinished) {
    const status = reply.statusCode;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  span.end();
}

export default fp(serverSpans, { name: 'portico-server-spans' });
