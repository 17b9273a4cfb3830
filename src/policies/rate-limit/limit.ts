import type { FastifyRequest } from 'fastify';
import type { RateLimitConfig, RateLimitKey } from '../../config/schema.js';
import { verifiedClaim } from '../auth.js';
import type { LimitScope } from './observer.js';
import { bucketShape, type BucketShape } from './token-bucket.js';

/**
 * One configured limit, compiled: its bucket shape, the identity its buckets are stored
 * under, and its RateLimit-Policy item.
 *
 * The headers follow draft-ietf-httpapi-ratelimit-headers-10 (September 2025), the latest
 * revision whose text we could read: `RateLimit-Policy: "orders";q=100;w=2` (q: the quota, the
 * burst; w: the seconds a spent bucket takes to refill) and `RateLimit: "orders";r=37;t=1`
 * (r: requests left now; t: seconds until the bucket is full again). The draft's items are
 * whole numbers, so w is rounded up.
 */
export class Limit implements BucketShape {
  readonly intervalMs: number;
  readonly toleranceMs: number;
  readonly burst: number;
  readonly key: RateLimitKey;
  /**
   * Scope, name and parameters: buckets are shared by every generation whose limit has the same
   * identity (they survive a reload), and a changed limit starts with fresh buckets.
   */
  readonly identity: string;
  /** The RateLimit-Policy field value. */
  readonly policy: string;
  readonly #remainingItem: string;

  /** `name`: the policy's name in the headers: "global", the service's name, or service.Rpc. */
  constructor(
    readonly scope: LimitScope,
    readonly name: string,
    config: RateLimitConfig,
  ) {
    ({ intervalMs: this.intervalMs, toleranceMs: this.toleranceMs } = bucketShape(config));
    this.burst = config.burst;
    this.key = config.key;
    this.identity = `${scope}:${name}:${config.rps}:${config.burst}:${config.key}`;
    const item = JSON.stringify(name);
    this.policy = `${item};q=${config.burst};w=${Math.max(1, Math.ceil(config.burst / config.rps))}`;
    this.#remainingItem = `${item};r=`;
  }

  /** Whose bucket a request takes from: its address, its token's subject, or the one bucket. */
  clientKey(request: FastifyRequest): string {
    if (this.key === 'global') return '';
    if (this.key === 'user') {
      const subject = verifiedClaim(request.identity, 'sub');
      // A prefix no address has: a subject that reads like an address gets a bucket of its own.
      if (subject !== undefined) return `sub:${subject}`;
    }
    // The address policies key on (server.trustedProxies); unset only for a connection already gone.
    return request.clientAddress ?? '';
  }

  /** The RateLimit field value with `remaining` requests left, full again in `resetMs`. */
  quota(remaining: number, resetMs: number): string {
    return `${this.#remainingItem}${remaining};t=${Math.ceil(resetMs / 1000)}`;
  }
}
