import http from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type onRequestHookHandler } from 'fastify';
import type { GatewayConfig } from './config/schema.js';
import type { BoundedContext } from './contexts/acl-route.js';
import { createClientErrorHandler } from './errors/client-errors.js';
import { frameworkErrorHandler, installErrorHandling } from './errors/error-handler.js';
import { GatewayError } from './errors/gateway-error.js';
import connectionPolicy from './lifecycle/connection-policy.js';
import { connectionTimeoutOptions } from './lifecycle/connection-timeouts.js';
import { healthRoutes } from './lifecycle/health-routes.js';
import { LiveRoutes } from './lifecycle/live-routes.js';
import { Readiness } from './lifecycle/readiness.js';
import httpObservability, { catchAllUrl } from './observability/http-observability.js';
import { createGatewayLogger } from './observability/logging.js';
import { traceIdMixin } from './observability/trace-id-log.js';
import { GatewayMetrics } from './observability/metrics.js';
import { registerOpenApi } from './openapi/openapi-plugin.js';
import { requestIdOf } from './observability/request-id.js';
import type { GatewayTracing } from './observability/tracing/gateway-tracing.js';
import pressureSampler from './policies/overload-shedding.js';
import clientAddress from './policies/client-address.js';
import corsPlugin from './policies/cors.js';
import { parseJsonExact } from './transcoding/exact-json.js';
import { exceedsJsonDepth } from './transcoding/json-depth.js';
import { ActiveStreams } from './transcoding/stream-response.js';
import { limitChunkedBody } from './transcoding/body-limit.js';
import { createRoutePipeline, matchRoute } from './transcoding/route-pipeline.js';

export interface BuildOptions {
  /** Bounded contexts with route modules; each is mounted in every generation that configures its service. */
  contexts?: readonly BoundedContext[];
  /** Overrides the logger (tests pass a stream or false). */
  logger?: FastifyServerOptions['logger'];
}

/** A built gateway: the Fastify app and the state its lifecycle needs. */
export interface Gateway {
  app: FastifyInstance;
  live: LiveRoutes;
  readiness: Readiness;
  streams: ActiveStreams;
  metrics: GatewayMetrics;
}

/**
 * Methods the catch-all takes: every method Node parses, so HttpRule `custom` kinds work
 * after a reload too, except OPTIONS (CORS preflight), CONNECT and TRACE.
 */
const transcodedMethods = http.METHODS.filter((m) => m !== 'OPTIONS' && m !== 'CONNECT' && m !== 'TRACE');
const bodylessMethods = new Set(['GET', 'HEAD', 'DELETE']);

/** JSON and any +json media type, with parameters such as charset. */
const jsonMediaType = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

/** Builds the gateway from a validated config; server.ts and the tests both call this. */
export async function buildApp(config: GatewayConfig, options: BuildOptions = {}): Promise<Gateway> {
  // With tracing on, every line of a request carries its trace id (observability/trace-id-log.ts).
  const mixin = config.tracing.enabled ? traceIdMixin : undefined;
  const gatewayLogger = options.logger === undefined ? createGatewayLogger(config.logging.level, mixin) : undefined;
  const logger = mixin && typeof options.logger === 'object' ? { ...options.logger, mixin } : options.logger;
  // Built always, so that metrics.enabled can follow a reload: off, /metrics is a 404.
  const metrics = new GatewayMetrics();
  const app = Fastify({
    ...(gatewayLogger ? { loggerInstance: gatewayLogger.logger as FastifyBaseLogger } : { logger }),
    genReqId: requestIdOf,
    // One access line per request (observability/http-observability.ts) instead of Fastify's two.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    // The limit that counts is the config generation's (transcoding/body-limit.ts); this only
    // keeps Fastify's own out of the way of a reload that raises it.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    clientErrorHandler: createClientErrorHandler(metrics),
    frameworkErrors: frameworkErrorHandler,
    forceCloseConnections: 'idle',
    // lifecycle/connection-policy.ts answers requests that arrive while closing, with the envelope.
    return503OnClosing: false,
    ...connectionTimeoutOptions(config.server),
  });

  // Tracing is decided here, once (it is not reloadable): off, none of it is even loaded.
  const tracing: GatewayTracing | undefined = config.tracing.enabled
    ? (await import('./observability/tracing/gateway-tracing.js')).startTracing(config.tracing, app.log)
    : undefined;
  const live = new LiveRoutes(config, metrics, app.log, options.contexts, tracing?.clientSpans);

  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(jsonMediaType, { parseAs: 'string' }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    // The catch-all pinned its request's generation in onRequest; other routes read the one in force.
    const { maxJsonDepth } = (request.generation ?? live.current).config.server;
    if (exceedsJsonDepth(body as string, maxJsonDepth)) {
      return done(GatewayError.http(400, `request body nests JSON deeper than ${maxJsonDepth} levels (server.maxJsonDepth)`), undefined);
    }
    try {
      done(null, parseJsonExact(body as string));
    } catch (err) {
      done(GatewayError.http(400, (err as Error).message), undefined);
    }
  });

  // Only OPTIONS reaches the not-found handler on a known path (CORS off): a 405 with Allow then.
  installErrorHandling(app, (method, path) => matchRoute(live.current.routes, method, path));
  const readiness = new Readiness(() => live.current.version);
  metrics.watchConfigVersion(() => live.current.version);
  const streams = new ActiveStreams();

  await app.register(clientAddress, { resolver: () => live.current.clientAddress });
  if (tracing) await tracing.register(app);
  await app.register(httpObservability, { metrics });
  await app.register(connectionPolicy, { readiness });
  await app.register(pressureSampler);
  await app.register(corsPlugin, { policy: () => live.current.cors });
  await app.register(healthRoutes, { readiness, services: () => live.upstreamStatus() });
  app.get('/metrics', { logLevel: 'warn' }, async (_request, reply) => {
    if (!live.current.config.metrics.enabled) return reply.callNotFound();
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await registerOpenApi(app, live);

  for (const method of transcodedMethods) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: !bodylessMethods.has(method) });
  }
  const pipeline = createRoutePipeline({
    generation: () => live.current,
    pressure: () => app.memoryUsage(),
    streams,
  });
  app.decorateRequest('generation', undefined as unknown as Gateway['live']['current']);
  app.decorateRequest('routeHit', undefined);
  app.decorateRequest('identity', undefined);
  app.decorateRequest('rateLimitRemaining', Infinity);
  const onRequest: onRequestHookHandler = (request, reply, done) => {
    let pending;
    try {
      pending = pipeline.onRequest(request, reply);
    } catch (err) {
      return done(err as Error);
    }
    if (pending) pending.then(() => done(), done);
    else done();
  };
  // Two routes, so that only the methods whose body Fastify reads (all but GET and HEAD) pay for
  // the chunked-body limit.
  app.route({ method: ['GET', 'HEAD'], url: catchAllUrl, exposeHeadRoute: false, onRequest, handler: pipeline.handler });
  app.route({
    method: transcodedMethods.filter((m) => m !== 'GET' && m !== 'HEAD'),
    url: catchAllUrl,
    onRequest,
    preParsing: (request, _reply, payload, done) => done(null, limitChunkedBody(request, payload, request.generation.config.server.bodyLimit)),
    handler: pipeline.handler,
  });
  app.addHook('onClose', async () => {
    live.close();
    await tracing?.close();
    gatewayLogger?.flush();
  });
  return { app, live, readiness, streams, metrics };
}
