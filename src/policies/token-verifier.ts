import { createVerifier, TokenError } from 'fast-jwt';
import { isHmacAlgorithm, type JwtConfig } from '../config/schema.js';

/** Verifies a token's signature and claims and returns its payload; throws a fast-jwt TokenError. */
export type TokenVerifier = (token: string) => Record<string, unknown>;

/**
 * One fast-jwt verifier per key: the secret verifies only HS* tokens and the public key only
 * RS/PS/ES/EdDSA ones, chosen by the token's `alg`. A single verifier holding both keys, or
 * the public key under an HS* algorithm, would accept a token HMAC-signed with the public
 * PEM text (algorithm confusion). `exp` is always required, `iss` and `aud` when configured.
 * fast-jwt's own cache is off: it remembers failures too (see verified-token-cache.ts).
 */
export function createTokenVerifier(jwt: JwtConfig): TokenVerifier {
  const common = {
    cache: false,
    requiredClaims: ['exp', ...(jwt.issuer !== undefined ? ['iss'] : []), ...(jwt.audience !== undefined ? ['aud'] : [])],
    ...(jwt.issuer !== undefined && { allowedIss: jwt.issuer }),
    ...(jwt.audience !== undefined && { allowedAud: jwt.audience }),
  };
  const hmacAlgorithms = jwt.algorithms.filter(isHmacAlgorithm);
  const keyAlgorithms = jwt.algorithms.filter((a) => !isHmacAlgorithm(a));
  const hmac = jwt.secret && hmacAlgorithms.length > 0 ? createVerifier({ ...common, key: jwt.secret, algorithms: hmacAlgorithms as never }) : undefined;
  const publicKey = jwt.publicKey && keyAlgorithms.length > 0 ? createVerifier({ ...common, key: jwt.publicKey, algorithms: keyAlgorithms as never }) : undefined;
  if (!hmac || !publicKey) {
    const only = (hmac ?? publicKey)!;
    return (token) => only(token) as Record<string, unknown>;
  }
  return (token) => {
    const algorithm = algorithmOf(token);
    if (algorithm === undefined) throw new TokenError(TokenError.codes.malformed, 'The token header is not valid.');
    return (isHmacAlgorithm(algorithm) ? hmac : publicKey)(token) as Record<string, unknown>;
  };
}

/** The `alg` of a compact JWS header, or undefined when the header is not readable. */
function algorithmOf(token: string): string | undefined {
  const end = token.indexOf('.');
  if (end <= 0) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, end), 'base64url').toString('utf8'));
    const algorithm = (header as { alg?: unknown } | null)?.alg;
    return typeof algorithm === 'string' ? algorithm : undefined;
  } catch {
    return undefined;
  }
}
