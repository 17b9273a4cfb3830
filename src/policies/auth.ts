import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { AuthModeName, JwtConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { Identity } from '../upstreams/call-context.js';

/** Synchronous: fast-jwt verifies with a key it already holds, so no request waits a turn. */
export type Authenticate = (request: FastifyRequest, mode: AuthModeName) => Identity | undefined;

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies the bearer token as `mode` demands and returns the claims to forward. */
    authenticate: Authenticate;
  }
  interface FastifyContextConfig {
    /** JWT requirement of a hand-written route (default none). */
    auth?: AuthModeName;
  }
}

const challenge = { 'www-authenticate': 'Bearer' };

/**
 * JWT bearer authentication (@fastify/jwt over fast-jwt). Declarative bindings call
 * `authenticate` once they know their service; hand-written routes declare `config.auth`
 * and a preHandler applies it. Every failure is a 401: a malformed header is not a 400,
 * because to the client it is the same problem as a missing token.
 */
async function authPlugin(app: FastifyInstance, { jwt }: { jwt: JwtConfig | undefined }): Promise<void> {
  if (jwt) {
    const secret = jwt.publicKey ? { public: jwt.publicKey } : jwt.secret!;
    await withoutCacheKeyNotice(() =>
      app.register(fastifyJwt, {
        secret,
        verify: {
          algorithms: jwt.algorithms as never,
          // Remember verified tokens (bounded, and never past their exp): a frontend sends the
          // same token many times, and the HMAC or signature check is the costliest step here.
          // Keyed by the token text itself: fast-jwt's default key, a SHA-2 hash made with a
          // new crypto Hash object per request, cost ~10 µs per request under load (measured
          // with npm run bench, 142 vs 158 µs per small GET).
          cache: 10_000,
          cacheKeyBuilder: (token: string) => token,
          ...(jwt.issuer !== undefined && { allowedIss: jwt.issuer }),
          ...(jwt.audience !== undefined && { allowedAud: jwt.audience }),
        },
      }),
    );
  }
  const claims = Object.entries(jwt?.forwardClaims ?? {});

  const authenticate: Authenticate = (request, mode) => {
    if (mode === 'none') return undefined;
    if (mode === 'optional' && request.headers.authorization === undefined) return undefined;
    if (!jwt) throw new GatewayError(GrpcStatus.INTERNAL, 'authentication is required but auth.jwt is not configured');
    const token = bearerToken(request.headers.authorization);
    let payload: Record<string, unknown>;
    try {
      // The instance verifier (with its cache) directly: request.jwtVerify() decodes the token
      // a second time and runs a callback chain on every request.
      payload = app.jwt.verify<Record<string, unknown>>(token);
    } catch (err) {
      throw GatewayError.http(401, describeJwtFailure(err), [], challenge);
    }
    const identity = new Map<string, string>();
    for (const [claim, key] of claims) {
      const value = payload[claim];
      if (value === undefined || value === null) continue;
      identity.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return identity;
  };
  app.decorate('authenticate', authenticate);
  app.decorateRequest('identity', undefined);

  // Only routes that declare config.auth get the hook: a global one would run (and read
  // routeOptions) on every request, the declarative bindings included.
  app.addHook('onRoute', (route: RouteOptions) => {
    const mode = route.config?.auth;
    if (!mode || mode === 'none') return;
    const check = (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void): void => {
      try {
        request.identity = authenticate(request, mode);
        done();
      } catch (err) {
        done(err as Error);
      }
    };
    route.preHandler = [check, ...(route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler])];
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Claims verified for a hand-written route, to forward upstream. */
    identity: Identity | undefined;
  }
}

const cacheKeyNotice = 'FAST_JWT_CACHE_KEY_BUILDER_SECURITY_RISK';

/**
 * fast-jwt prints a security notice (GHSA-rp9m-7r4c-75qg) whenever a verifier has a custom
 * cache key builder, because a builder that gives two tokens one key would let one token's
 * verified claims answer for another. Ours returns the token itself, so keys cannot collide:
 * that one notice is dropped while the verifiers are built, and nothing else is.
 */
async function withoutCacheKeyNotice(build: () => PromiseLike<unknown>): Promise<void> {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, ...args: Parameters<typeof emitWarning>) {
    const [, options] = args;
    if (typeof options === 'object' && options?.code === cacheKeyNotice) return;
    return emitWarning.apply(this, args);
  } as typeof emitWarning;
  try {
    await build();
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** The token of an `Authorization: Bearer <token>` header; anything else is a 401. */
function bearerToken(header: string | undefined): string {
  if (header === undefined) throw GatewayError.http(401, 'missing bearer token', [], challenge);
  const match = /^Bearer +([^\s]+)$/i.exec(header);
  if (!match) throw GatewayError.http(401, 'the Authorization header must be "Bearer <token>"', [], challenge);
  return match[1]!;
}

/** fast-jwt's error codes, as a client-safe reason. */
function describeJwtFailure(err: unknown): string {
  switch ((err as { code?: string }).code) {
    case 'FAST_JWT_EXPIRED':
      return 'the bearer token has expired';
    case 'FAST_JWT_INACTIVE':
      return 'the bearer token is not valid yet';
    default:
      return 'invalid bearer token';
  }
}

export default fp(authPlugin, { name: 'portico-auth' });
