import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthModeName } from '../config/schema.js';
import { GatewayError, unsupportedMediaTypeMessage } from '../errors/gateway-error.js';
import type { RateLimits } from '../policies/rate-limit/rate-limits.js';
import type { CallContextFactory, Identity } from '../upstreams/call-context.js';
import { PathDecodeError } from './path-template.js';
import type { CompiledRoute, RouteSet } from './route-set.js';
import { streamResponse, type ActiveStreams } from './stream-response.js';

export interface PipelineDeps {
  /** The route set in force (swapped on reload). */
  routes(): RouteSet;
  /** The rate limits of the same generation as routes(). */
  rateLimits(): RateLimits;
  authenticate(request: FastifyRequest, mode: AuthModeName): Identity | undefined;
  calls: CallContextFactory;
  streams: ActiveStreams;
  sseHeartbeatMs: number;
  streamIdleTimeoutMs: number;
}

const jsonContentType = 'application/json; charset=utf-8';

type RouteHit = { value: CompiledRoute; params: ReadonlyMap<string, string> };

declare module 'fastify' {
  interface FastifyRequest {
    /** The route the pipeline's onRequest stage matched (decorated in app.ts). */
    routeHit: RouteHit | undefined;
    /** The verified claims to forward upstream, once authenticated. */
    identity: Identity | undefined;
  }
}

/**
 * The one request pipeline of every route, declarative binding or route module alike:
 * global rate limit → match → authenticate → route rate limits → read and bind the body →
 * validate → call → render. The first four stages run in `onRequest`, before Fastify reads
 * the body: an unknown path is a 404, a wrong method a 405, a missing token a 401 and a spent
 * limit a 429, whatever the body's size or content type. The rest is the handler. Errors of
 * every stage leave through the one error handler (errors/error-handler.ts).
 */
export interface RoutePipeline {
  /** Synchronous unless a rate limit waits on Redis. */
  onRequest(request: FastifyRequest, reply: FastifyReply): void | Promise<void>;
  handler(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export function createRoutePipeline(deps: PipelineDeps): RoutePipeline {
  const routeAndAdmit = (request: FastifyRequest, reply: FastifyReply, routes: RouteSet, limits: RateLimits): void | Promise<void> => {
    const url = request.raw.url ?? '/';
    const queryStart = url.indexOf('?');
    const hit = matchRoute(routes, request.method, queryStart < 0 ? url : url.slice(0, queryStart));
    request.routeLabel = hit.value.label;
    request.routeHit = hit;
    request.identity = deps.authenticate(request, hit.value.auth);
    return limits.forRoute(hit.value)?.admit(request, reply);
  };

  return {
    onRequest(request, reply) {
      // Both of one generation, read together: a reload while Redis answers changes neither.
      const routes = deps.routes();
      const limits = deps.rateLimits();
      const admitted = limits.global?.admit(request, reply);
      if (admitted) return admitted.then(() => routeAndAdmit(request, reply, routes, limits));
      return routeAndAdmit(request, reply, routes, limits);
    },

    async handler(request, reply) {
      const { value: route, params } = request.routeHit!;
      const url = request.raw.url ?? '/';
      const queryStart = url.indexOf('?');
      if (route.readsBody && request.headers['content-type'] === undefined) {
        throw GatewayError.http(415, unsupportedMediaTypeMessage);
      }
      const message = route.bind({
        params,
        rawQuery: queryStart < 0 ? '' : url.slice(queryStart + 1),
        body: route.readsBody ? request.body : undefined,
        identity: request.identity,
      });
      const ctx = deps.calls.forCall(request, reply, request.identity, route.timeoutMs, route.client.hashKey);
      const call = { service: route.service, rpc: route.rpc, request: message, ctx, idempotent: route.idempotent };
      if (route.streaming) return streamResponse(request, reply, route, call, deps.streams, deps.sseHeartbeatMs, deps.streamIdleTimeoutMs);

      let response;
      try {
        response = await route.client.unary(call);
      } catch (err) {
        throw err instanceof GatewayError ? route.clientError(err) : err;
      }
      reply.header('content-type', jsonContentType);
      return reply.send(route.render(response));
    },
  };
}

function matchRoute(routes: RouteSet, method: string, path: string): RouteHit {
  let match;
  try {
    match = routes.table.match(method, path);
  } catch (err) {
    if (err instanceof PathDecodeError) throw GatewayError.http(400, `malformed path: ${err.message}`);
    throw err;
  }
  if (match.kind === 'found') return match;
  if (match.kind === 'method-not-allowed') {
    throw GatewayError.http(405, `method ${method} is not allowed for ${path}`, [], { allow: match.allow.join(', ') });
  }
  throw GatewayError.http(404, `no route for ${method} ${path}`);
}
