import type { FastifyRequest } from 'fastify';
import { issuersOf, type AuthModeName, type JwtConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { Identity } from '../upstreams/call-context.js';
import { JwksUnavailableError, type JwksKeySet, type JwksKeySets } from './jwks-key-set.js';
import { recordScopes } from './scopes.js';
import { createIssuerVerifier, unverifiedIssuer, type IssuerVerifier } from './token-verifier.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

const challenge = { 'www-authenticate': 'Bearer' };

/**
 * JWT bearer authentication of one request as its route's `mode` demands, with the
 * authenticator of the config generation the request runs on. The route pipeline calls it
 * before the body is read (transcoding/route-pipeline.ts). Synchronous for a cached token and
 * for one verified with a key held (secret, PEM: fast-jwt), so no request waits a turn; a
 * Promise only when a JWKS verifies the token, as its key may have to be fetched. Every
 * failure is a 401: a malformed header is not a 400, because to the client it is the same
 * problem as a missing token.
 */
export function authenticate(request: FastifyRequest, mode: AuthModeName, authenticator: Authenticator | undefined): Identity | undefined | Promise<Identity> {
  if (mode === 'none') return undefined;
  const header = request.headers.authorization;
  if (mode === 'optional' && header === undefined) return undefined;
  if (!authenticator) throw new GatewayError(GrpcStatus.INTERNAL, 'authentication is required but auth.jwt is not configured');
  return authenticator.identify(header);
}

export interface Authenticator {
  /** The identity of an `Authorization` header's verified bearer token; a GatewayError 401 otherwise. */
  identify(authorization: string | undefined): Identity | Promise<Identity>;
  /** The verified tokens it remembers. */
  readonly cache: VerifiedTokenCache;
  /** The JWKS key sets its issuers verify with (long-lived: owned by LiveRoutes' JwksKeySets). */
  readonly keySets: readonly JwksKeySet[];
}

/**
 * Authenticates against `jwt`: size limit, then the cache of verified tokens, then the issuer
 * the token's iss names (read before any signature check, so a token is only ever verified
 * with its own issuer's keys and algorithms), then that issuer's verifier.
 */
export function createAuthenticator(jwt: JwtConfig, keySets: JwksKeySets): Authenticator {
  const issuers = issuersOf(jwt).map((issuer) => createIssuerVerifier(issuer, keySets));
  const byIss = new Map(issuers.filter((i) => i.config.issuer !== undefined).map((i) => [i.config.issuer!, i]));
  // auth.jwt's own keys take the tokens whose iss names no other issuer.
  const fallback = issuers[0]?.config === jwt ? issuers[0] : undefined;
  const cache = new VerifiedTokenCache(jwt.cacheBytes);
  const claims = Object.entries(jwt.forwardClaims);
  const tooLong = `the bearer token is longer than ${jwt.maxTokenBytes} bytes`;

  const admit = (token: string, payload: Record<string, unknown>, issuer: IssuerVerifier, generation: number): Identity => {
    const toleranceSec = issuer.config.clockToleranceSec;
    if (typeof payload['iat'] === 'number' && payload['iat'] > Date.now() / 1000 + toleranceSec) {
      throw GatewayError.http(401, 'the bearer token was issued in the future', [], challenge);
    }
    const identity = new Map<string, string>();
    for (const [claim, key] of claims) {
      const value = payload[claim];
      if (value === undefined || value === null) continue;
      identity.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    verifiedClaims.set(identity, scalarClaims(payload));
    recordScopes(identity, payload);
    // exp is a required numeric claim: the verifier has checked both.
    cache.set(token, identity, ((payload['exp'] as number) + toleranceSec) * 1000, issuer.keys, generation);
    return identity;
  };

  const identify = (authorization: string | undefined): Identity | Promise<Identity> => {
    const token = bearerToken(authorization);
    // Before any decoding: a junk token costs no more than its length check.
    if (token.length > jwt.maxTokenBytes) throw GatewayError.http(401, tooLong, [], challenge);
    const cached = cache.get(token, Date.now());
    if (cached) return cached;
    const issuer = issuers.length === 1 ? issuers[0]! : (byIss.get(unverifiedIssuer(token) ?? '') ?? fallback);
    if (!issuer) throw GatewayError.http(401, 'the bearer token is not from an accepted issuer', [], challenge);
    const generation = issuer.keys?.generation ?? 0;
    let verified;
    try {
      verified = issuer.verify(token);
    } catch (err) {
      throw GatewayError.http(401, describeJwtFailure(err), [], challenge);
    }
    if (!(verified instanceof Promise)) return admit(token, verified, issuer, generation);
    return verified.then(
      (payload) => admit(token, payload, issuer, generation),
      (err: unknown) => {
        throw GatewayError.http(401, describeJwtFailure(err), [], challenge);
      },
    );
  };
  return { identify, cache, keySets: issuers.flatMap((issuer) => (issuer.keys ? [issuer.keys] : [])) };
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
  if (!bearerHeader.test(header)) throw GatewayError.http(401, 'the Authorization header must be "Bearer <token>"', [], challenge);
  // A test and a slice: no match array per request.
  let start = 'Bearer '.length;
  while (header.charCodeAt(start) === 0x20) start++;
  return header.slice(start);
}

const bearerHeader = /^Bearer +\S+$/i;

/** fast-jwt's and jose's failures, as a client-safe reason. */
function describeJwtFailure(err: unknown): string {
  if (err instanceof JwksUnavailableError) return "the signing keys of the bearer token's issuer are not available yet";
  const { code, claim, reason } = err as { code?: string; claim?: string; reason?: string };
  switch (code) {
    case 'FAST_JWT_EXPIRED':
    case 'ERR_JWT_EXPIRED':
      return 'the bearer token has expired';
    case 'FAST_JWT_INACTIVE':
      return 'the bearer token is not valid yet';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return 'the bearer token is not valid yet';
      if (reason === 'missing' && (claim === 'exp' || claim === 'iss' || claim === 'aud')) return `the bearer token has no ${claim} claim`;
      return 'invalid bearer token';
    case 'FAST_JWT_MISSING_REQUIRED_CLAIM': {
      // fast-jwt names the claim ("The exp claim is required."); it is one of ours: exp, iss or aud.
      const missing = /^The (exp|iss|aud) claim is required\.$/.exec((err as Error).message)?.[1];
      return missing ? `the bearer token has no ${missing} claim` : 'the bearer token lacks a required claim';
    }
    default:
      return 'invalid bearer token';
  }
}
