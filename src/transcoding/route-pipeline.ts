import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, unsupportedMediaTypeMessage } from '../errors/gateway-error.js';
import type { RouteGeneration } from '../lifecycle/live-routes.js';
import { authenticate } from '../policies/auth.js';
import { shedIfOverloaded, type PressureSample } from '../policies/overload-shedding.js';
import { checkScopes } from '../policies/scopes.js';
import { refuseDeclaredOversize } from './body-limit.js';
import type { Identity } from '../upstreams/call-context.js';
import { PathDecodeError } from './path-template.js';
import type { CompiledRoute, RouteSet } from './route-set.js';
import { streamResponse, type ActiveStreams } from './stream-response.js';

export interface PipelineDeps {
  /** The config generation in force (swapped on reload). */
  generation(): RouteGeneration;
  /** The last load sample, for load shedding. */
  pressure(): PressureSample;
  streams: ActiveStreams;
}

const jsonContentType = 'application/json; charset=utf-8';

type RouteHit = { value: CompiledRoute; params: ReadonlyMap<string, string> };

declare module 'fastify' {
  interface FastifyRequest {
    /** The config generation the request runs on, from its first stage to its last (decorated in app.ts). */
    generation: RouteGeneration;
    /** The route the pipeline's onRequest stage matched (decorated in app.ts). */
    routeHit: RouteHit | undefined;
    /** The verified claims to forward upstream, once authenticated. */
    identity: Identity | undefined;
  }
}

/**
 * The one request pipeline of every route, declarative binding or route module alike:
 * shed when overloaded → global rate limit → match → authenticate (and check scopes) → route
 * rate limits → read and bind the body → validate → call → render. The stages up to the route's
 * rate limits run in `onRequest`, before Fastify reads the body: an unknown path is a 404, a
 * wrong method a 405, a missing token a 401, a missing scope a 403 and a spent limit a 429,
 * whatever the body's size or content type; a declared oversized body is a 413 then too.
 * `onRequest` returns a Promise only while a token's JWKS key is looked up or a rate limit
 * waits on Redis; otherwise it goes through synchronously. The rest is the handler. Errors of
 * every stage leave through the one error handler (errors/error-handler.ts).
 */
export interface RoutePipeline {
  onRequest(request: FastifyRequest, reply: FastifyReply): void | Promise<void>;
  handler(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export function createRoutePipeline(deps: PipelineDeps): RoutePipeline {
  return {
    onRequest(request, reply) {
      const generation = deps.generation();
      request.generation = generation;
      if (generation.overload) shedIfOverloaded(request, generation.overload, deps.pressure());
      const global = generation.rateLimits.global?.admit(request, reply);
      if (global) return global.then(() => routeAndAuthenticate(request, reply, generation));
      return routeAndAuthenticate(request, reply, generation);
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
      const ctx = request.generation.calls.forCall(request, reply, request.identity, route.timeoutMs, route.client.hashKey);
      const call = { service: route.service, rpc: route.rpc, request: message, ctx, idempotent: route.idempotent };
      if (route.streaming) {
        const { sseHeartbeatMs, streamIdleTimeoutMs } = request.generation.config.server;
        return streamResponse(request, reply, route, call, deps.streams, sseHeartbeatMs, streamIdleTimeoutMs);
      }

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

function routeAndAuthenticate(request: FastifyRequest, reply: FastifyReply, generation: RouteGeneration): void | Promise<void> {
  const url = request.raw.url ?? '/';
  const queryStart = url.indexOf('?');
  const hit = matchRoute(generation.routes, request.method, queryStart < 0 ? url : url.slice(0, queryStart));
  request.routeLabel = hit.value.label;
  request.routeHit = hit;
  const identity = authenticate(request, hit.value.auth, generation.auth);
  if (identity instanceof Promise) return identity.then((verified) => admitted(request, reply, verified));
  return admitted(request, reply, identity);
}

/**
 * After authentication: the identity on the request, then the route's scopes, its declared body
 * size and its rate limits (last: they may key on the identity, and a refused request takes no token).
 */
function admitted(request: FastifyRequest, reply: FastifyReply, identity: Identity | undefined): void | Promise<void> {
  const route = request.routeHit!.value;
  request.identity = identity;
  checkScopes(identity, route.scopes);
  if (route.readsBody) refuseDeclaredOversize(request, request.generation.config.server.bodyLimit);
  return request.generation.rateLimits.forRoute(route)?.admit(request, reply);
}

/** The route of `method` and `path`; a GatewayError 400, 404 or 405 (with Allow) when there is none. */
export function matchRoute(routes: RouteSet, method: string, path: string): RouteHit {
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
