import { createVerifier, TokenError } from 'fast-jwt';
import { jwtVerify } from 'jose';
import { isHmacAlgorithm, type IssuerConfig } from '../config/schema.js';
import type { JwksKeySet, JwksKeySets } from './jwks-key-set.js';

type Payload = Record<string, unknown>;

/**
 * Verifies a token's signature and claims and returns its payload: at once with a key held
 * (secret, PEM; fast-jwt), as a Promise with a JWKS (jose), whose key may have to be fetched.
 * Throws (or rejects with) a fast-jwt TokenError or a jose error.
 */
export type TokenVerifier = (token: string) => Payload | Promise<Payload>;

/** One issuer's verifier and the JWKS it verifies with, if any. */
export interface IssuerVerifier {
  readonly config: IssuerConfig;
  readonly verify: TokenVerifier;
  readonly keys: JwksKeySet | undefined;
}

/**
 * One verifier per key: the secret verifies only HS* tokens and the public key (a PEM, or the
 * keys of a JWKS) only RS/PS/ES/EdDSA ones, chosen by the token's `alg`. A single verifier
 * holding both keys, or the public key under an HS* algorithm, would accept a token
 * HMAC-signed with the public PEM text (algorithm confusion). `exp` is always required, `iss`
 * and `aud` when configured; `nbf` and `exp` allow clockToleranceSec. fast-jwt's own cache is
 * off: it remembers failures too (see verified-token-cache.ts).
 */
export function createIssuerVerifier(issuer: IssuerConfig, keySets: JwksKeySets): IssuerVerifier {
  const common = {
    cache: false,
    clockTolerance: issuer.clockToleranceSec * 1000,
    requiredClaims: ['exp', ...(issuer.issuer !== undefined ? ['iss'] : []), ...(issuer.audience !== undefined ? ['aud'] : [])],
    ...(issuer.issuer !== undefined && { allowedIss: issuer.issuer }),
    ...(issuer.audience !== undefined && { allowedAud: issuer.audience }),
  };
  const hmacAlgorithms = issuer.algorithms.filter(isHmacAlgorithm);
  const keyAlgorithms = issuer.algorithms.filter((a) => !isHmacAlgorithm(a));
  const fastJwt = (key: string, algorithms: string[]): TokenVerifier => {
    const verifier = createVerifier({ ...common, key, algorithms: algorithms as never });
    return (token) => verifier(token) as Payload;
  };
  const hmac = issuer.secret && hmacAlgorithms.length > 0 ? fastJwt(issuer.secret, hmacAlgorithms) : undefined;
  const keys = issuer.jwksUrl !== undefined && keyAlgorithms.length > 0 ? keySets.get(issuer.jwksUrl, issuer.jwksRefreshSec) : undefined;
  const publicKey = keys
    ? jwksVerifier(issuer, keys, keyAlgorithms)
    : issuer.publicKey && keyAlgorithms.length > 0
      ? fastJwt(issuer.publicKey, keyAlgorithms)
      : undefined;
  if (!hmac || !publicKey) return { config: issuer, verify: (hmac ?? publicKey)!, keys };
  const verify: TokenVerifier = (token) => {
    const algorithm = algorithmOf(token);
    if (algorithm === undefined) throw new TokenError(TokenError.codes.malformed, 'The token header is not valid.');
    return (isHmacAlgorithm(algorithm) ? hmac : publicKey)(token);
  };
  return { config: issuer, verify, keys };
}

/** jose's jwtVerify against the JWKS: the key comes from the set by kid, never from the token's jku, x5u or jwk. */
function jwksVerifier(issuer: IssuerConfig, keys: JwksKeySet, algorithms: string[]): TokenVerifier {
  const options = {
    algorithms,
    clockTolerance: issuer.clockToleranceSec,
    requiredClaims: ['exp'],
    ...(issuer.issuer !== undefined && { issuer: issuer.issuer }),
    ...(issuer.audience !== undefined && { audience: issuer.audience }),
  };
  return async (token) => (await jwtVerify(token, keys.key, options)).payload;
}

/** The `alg` of a compact JWS header, or undefined when the header is not readable. */
function algorithmOf(token: string): string | undefined {
  const end = token.indexOf('.');
  return end <= 0 ? undefined : stringMember(token.slice(0, end), 'alg');
}

/** The `iss` of a compact JWS payload, not verified; undefined when unreadable. */
export function unverifiedIssuer(token: string): string | undefined {
  const headerEnd = token.indexOf('.');
  const payloadEnd = headerEnd < 0 ? -1 : token.indexOf('.', headerEnd + 1);
  return payloadEnd < 0 ? undefined : stringMember(token.slice(headerEnd + 1, payloadEnd), 'iss');
}

function stringMember(base64url: string, name: string): string | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(base64url, 'base64url').toString('utf8'));
    const member = (value as Record<string, unknown> | null)?.[name];
    return typeof member === 'string' ? member : undefined;
  } catch {
    return undefined;
  }
}
