import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { Identity } from '../upstreams/call-context.js';

/**
 * The scopes a verified token grants, held by its identity object as verifiedClaims are
 * (auth.ts): read once at verification, so a cache hit costs no parsing.
 */
const grantedScopes = new WeakMap<Identity, ReadonlySet<string>>();

/** Remembers the scopes of the token `identity` was verified from: `scope` (space-separated) or `scp` (a list, or a string). */
export function recordScopes(identity: Identity, payload: Record<string, unknown>): void {
  const scopes = new Set<string>();
  for (const claim of [payload['scope'], payload['scp']]) {
    const listed: unknown[] = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
    for (const scope of listed) if (typeof scope === 'string' && scope !== '') scopes.add(scope);
  }
  if (scopes.size > 0) grantedScopes.set(identity, scopes);
}

/**
 * Checks that the token behind `identity` grants every one of `required`: else a 403
 * PERMISSION_DENIED naming the missing scopes, in the message, in an ErrorInfo (reason
 * INSUFFICIENT_SCOPE, metadata.scopes) and in the WWW-Authenticate challenge of RFC 6750.
 * A route with scopes always authenticates, so `identity` is set.
 */
export function checkScopes(identity: Identity | undefined, required: readonly string[]): void {
  if (required.length === 0) return;
  const granted = identity && grantedScopes.get(identity);
  const missing = required.filter((scope) => !granted?.has(scope));
  if (missing.length === 0) return;
  const list = missing.join(' ');
  throw new GatewayError(
    GrpcStatus.PERMISSION_DENIED,
    `the bearer token lacks the scope${missing.length === 1 ? '' : 's'} ${missing.join(', ')}`,
    [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'INSUFFICIENT_SCOPE', domain: 'portico', metadata: { scopes: list } }],
    { headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${list}"` } },
  );
}
