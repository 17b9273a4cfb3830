import { fromJson, type Message } from '@bufbuild/protobuf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequestDetail, GatewayError } from '../errors/gateway-error.js';
import type { AuthModeName } from '../config/schema.js';
import type { CallContextFactory, Identity } from '../upstreams/call-context.js';
import { keptIntegerLiterals } from './exact-json.js';
import { validateMessageJson } from './field-violations.js';
import { PathDecodeError } from './path-template.js';
import { RequestBindingError } from './request-binding.js';
import type { RouteSet, TranscodedRoute } from './route-set.js';
import { streamResponse, type ActiveStreams } from './stream-response.js';
import { restoreStructNumbers } from './struct-numbers.js';

export interface TranscodeDeps {
  /** The route set in force (swapped on reload). */
  routes(): RouteSet;
  authenticate(request: FastifyRequest, mode: AuthModeName): Identity | undefined;
  calls: CallContextFactory;
  streams: ActiveStreams;
  sseHeartbeatMs: number;
  streamIdleTimeoutMs: number;
  /** Methods the hand-written route modules take at a path, for 405 and Allow. */
  handWrittenMethods(path: string): readonly string[];
}

const jsonContentType = 'application/json; charset=utf-8';

type RouteHit = { value: TranscodedRoute; params: ReadonlyMap<string, string> };

declare module 'fastify' {
  interface FastifyRequest {
    /** The binding the catch-all's onRequest hook found (decorated in app.ts). */
    transcodeHit: RouteHit | undefined;
  }
}

export interface TranscodeHandler {
  (request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
  /**
   * The catch-all's onRequest hook: finds the binding before the body is read, so that an
   * unknown path is a 404 and a wrong method a 405 whatever the body (not a 413 or 415).
   * Throws the 404, 405 or 400 (malformed path) GatewayError.
   */
  route(request: FastifyRequest): void;
}

/**
 * The catch-all handler for declarative bindings: route, authenticate, bind, validate,
 * call, reply. Hand-written route modules are ordinary Fastify routes and win over it.
 */
export function createTranscodeHandler(deps: TranscodeDeps): TranscodeHandler {
  const findRoute = (request: FastifyRequest): RouteHit => {
    const url = request.raw.url ?? '/';
    const queryStart = url.indexOf('?');
    const hit = matchRoute(deps, request.method, queryStart < 0 ? url : url.slice(0, queryStart));
    request.routeLabel = hit.value.label;
    request.transcodeHit = hit;
    return hit;
  };

  async function transcode(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const url = request.raw.url ?? '/';
    const queryStart = url.indexOf('?');
    const rawQuery = queryStart < 0 ? '' : url.slice(queryStart + 1);

    const match = request.transcodeHit ?? findRoute(request);
    const route = match.value;

    const identity = deps.authenticate(request, route.auth);
    if (route.body !== undefined && request.headers['content-type'] === undefined) {
      throw GatewayError.http(415, 'a request body must be sent as application/json');
    }
    const message = buildRequestMessage(route, match.params, rawQuery, route.body !== undefined ? request.body : undefined);
    const ctx = deps.calls.forCall(request, reply, identity, route.timeoutMs);
    if (route.streaming) return streamResponse(request, reply, route, message, ctx, deps.streams, deps.sseHeartbeatMs, deps.streamIdleTimeoutMs);

    const response = await deps.calls.observe(request, route.upstream.unary(route.rpc, message, ctx));
    reply.header('content-type', jsonContentType);
    return reply.send(route.render(response));
  }

  return Object.assign(transcode, { route: (request: FastifyRequest): void => void findRoute(request) });
}

function matchRoute(deps: TranscodeDeps, method: string, path: string): RouteHit {
  let match;
  try {
    match = deps.routes().table.match(method, path);
  } catch (err) {
    if (err instanceof PathDecodeError) throw GatewayError.http(400, `malformed path: ${err.message}`);
    throw err;
  }
  if (match.kind === 'found') return match as RouteHit;
  const allow = new Set([...(match.kind === 'method-not-allowed' ? match.allow : []), ...deps.handWrittenMethods(path)]);
  if (allow.has('GET')) allow.add('HEAD');
  if (allow.size > 0) {
    throw GatewayError.http(405, `method ${method} is not allowed for ${path}`, [], { allow: [...allow].sort().join(', ') });
  }
  throw GatewayError.http(404, `no route for ${method} ${path}`);
}

function buildRequestMessage(route: TranscodedRoute, params: ReadonlyMap<string, string>, rawQuery: string, body: unknown): Message {
  let json: Record<string, unknown>;
  try {
    json = route.binding.build(params, rawQuery, body);
  } catch (err) {
    if (err instanceof RequestBindingError) throw invalidRequest(err.violations);
    throw err;
  }
  const literals = keptIntegerLiterals(body);
  if (literals) restoreStructNumbers(route.input, json, literals);
  const violations = validateMessageJson(route.input, json, route.validation);
  if (violations.length > 0) throw invalidRequest(violations);
  try {
    return fromJson(route.input, json as never, { registry: route.registry, ignoreUnknownFields: route.validation.allowUnknownFields });
  } catch (err) {
    // The validator mirrors fromJson's rules; this only catches what it does not model.
    throw GatewayError.http(400, 'invalid request', [badRequestDetail([{ field: '', description: (err as Error).message }])]);
  }
}

function invalidRequest(violations: readonly { field: string; description: string }[]): GatewayError {
  const summary = violations
    .slice(0, 3)
    .map((v) => (v.field ? `${v.field}: ${v.description}` : v.description))
    .join('; ');
  return GatewayError.http(400, `invalid request: ${summary}${violations.length > 3 ? '; …' : ''}`, [badRequestDetail(violations)]);
}
