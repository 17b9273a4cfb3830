import type { FastifyRequest } from 'fastify';
import type { AuthModeName, JwtConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { Identity } from '../upstreams/call-context.js';
import { createTokenVerifier } from './token-verifier.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const challenge = { 'www-authenticate': 'Bearer' };

/**
 * JWT bearer authentication (fast-jwt) of one request as its route's `mode` demands, with the
 * authenticator of the config generation the request runs on. The route pipeline calls it
 * before the body is read (transcoding/route-pipeline.ts). Synchronous: fast-jwt verifies with
 * a key it already holds, so no request waits a turn. Every failure is a 401: a malformed
 * header is not a 400, because to the client it is the same problem as a missing token.
 */
export function authenticate(request: FastifyRequest, mode: AuthModeName, authenticator: Authenticator | undefined): Identity | undefined {
  if (mode === 'none') return undefined;
  const header = request.headers.authorization;
  if (mode === 'optional' && header === undefined) return undefined;
  if (!authenticator) throw new GatewayError(GrpcStatus.INTERNAL, 'authentication is required but auth.jwt is not configured');
  return authenticator.identify(header);
}

export interface Authenticator {
  /** The identity of an `Authorization` header's verified bearer token; a GatewayError 401 otherwise. */
  identify(authorization: string | undefined): Identity;
  /** The verified tokens it remembers. */
  readonly cache: VerifiedTokenCache;
}

/** Authenticates against `jwt`: size limit, then the cache of verified tokens, then fast-jwt. */
export function createAuthenticator(jwt: JwtConfig): Authenticator {
  const verify = createTokenVerifier(jwt);
  const cache = new VerifiedTokenCache(jwt.cacheBytes);
  const claims = Object.entries(jwt.forwardClaims);
  const tooLong = `the bearer token is longer than ${jwt.maxTokenBytes} bytes`;

  const identify = (authorization: string | undefined): Identity => {
    const token = bearerToken(authorization);
    // Before any decoding: a junk token costs no more than its length check.
    if (token.length > jwt.maxTokenBytes) throw GatewayError.http(401, tooLong, [], challenge);
    const cached = cache.get(token, Date.now());
    if (cached) return cached;
    let payload: Record<string, unknown>;
    try {
      payload = verify(token);
    } catch (err) {
      throw GatewayError.http(401, describeJwtFailure(err), [], challenge);
    }
    const identity = new Map<string, string>();
    for (const [claim, key] of claims) {
      const value = payload[claim];
      if (value === undefined || value === null) continue;
      identity.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    verifiedClaims.set(identity, scalarClaims(payload));
    // exp is a required numeric claim: fast-jwt has checked both.
    cache.set(token, identity, (payload['exp'] as number) * 1000);
    return identity;
  };
  return { identify, cache };
}

/**
 * Every text, number and boolean claim of the token an identity came from, forwarded or not
 * (balancing may hash on one: hashOn.claim). Held by the identity object, which the verified
 * token cache hands out again for the same token, so it lives as long as that identity does;
 * it is smaller than the token text (maxTokenBytes).
 */
const verifiedClaims = new WeakMap<Identity, ReadonlyMap<string, string>>();

/** A claim of the verified token behind `identity`, as text; undefined without a token or claim. */
export function verifiedClaim(identity: Identity | undefined, claim: string): string | undefined {
  return identity && verifiedClaims.get(identity)?.get(claim);
}

function scalarClaims(payload: Record<string, unknown>): ReadonlyMap<string, string> {
  const claims = new Map<string, string>();
  for (const [name, value] of Object.entries(payload)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') claims.set(name, String(value));
  }
  return claims;
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
    case 'FAST_JWT_MISSING_REQUIRED_CLAIM': {
      // fast-jwt names the claim ("The exp claim is required."); it is one of ours: exp, iss or aud.
      const claim = /^The (exp|iss|aud) claim is required\.$/.exec((err as Error).message)?.[1];
      return claim ? `the bearer token has no ${claim} claim` : 'the bearer token lacks a required claim';
    }
    default:
      return 'invalid bearer token';
  }
}
