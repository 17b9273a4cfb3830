import type { FastifyReply, FastifyRequest } from 'fastify';
import { rateLimited, refusal } from '../../errors/refusals.js';
import type { GatewayError } from '../../errors/gateway-error.js';
import type { Limit } from './limit.js';
import type { MemoryBuckets } from './memory-store.js';
import type { RateLimitObserver } from './observer.js';
import type { RedisStore, StoreFailMode } from './redis-store.js';
import { nextArrival, remainingAt, waitFor } from './token-bucket.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Requests left of the tightest limit reported so far in the RateLimit header (decorated in app.ts). */
    rateLimitRemaining: number;
  }
}

/**
 * The limits one request passes at one point of the pipeline: the global limit before
 * routing, or a route's service and RPC limits after authentication. Every limit takes a
 * token, or, when one is spent, none does and the request is a 429.
 */
export interface LimitCheck {
  /**
   * Synchronous with the memory store (no promise on the request path), a promise with Redis.
   * An allowed request gets the RateLimit headers of its tightest limit; a refused one throws.
   */
  admit(request: FastifyRequest, reply: FastifyReply): void | Promise<void>;
}

/** Buckets in this process; `limits` ordered from the widest scope to the narrowest. */
export class MemoryCheck implements LimitCheck {
  // Each limit's client key and next TAT for the request being checked, found once and used by
  // both passes. Reused across requests: admit is synchronous, so no two requests share them.
  readonly #keys: string[];
  readonly #tats: number[];

  constructor(
    private readonly limits: readonly Limit[],
    private readonly buckets: readonly MemoryBuckets[],
    private readonly observer: RateLimitObserver,
  ) {
    this.#keys = limits.map(() => '');
    this.#tats = limits.map(() => 0);
  }

  admit(request: FastifyRequest, reply: FastifyReply): void {
    const { limits, buckets } = this;
    const keys = this.#keys;
    const tats = this.#tats;
    const now = performance.now();
    let refused = -1;
    let wait = 0;
    for (let i = 0; i < limits.length; i++) {
      keys[i] = limits[i]!.clientKey(request);
      tats[i] = nextArrival(limits[i]!, buckets[i]!.tat(keys[i]!), now);
      const over = waitFor(limits[i]!, tats[i]!, now);
      if (over > wait) {
        wait = over;
        refused = i;
      }
    }
    if (refused >= 0) {
      // The bucket is full until the TAT it has now, one interval before the refused request's.
      throw refuse(request, limits[refused]!, this.observer, wait, tats[refused]! - limits[refused]!.intervalMs - now);
    }
    let tightest = 0;
    let tightestRemaining = Infinity;
    for (let i = 0; i < limits.length; i++) {
      buckets[i]!.set(keys[i]!, tats[i]!, now);
      const remaining = remainingAt(limits[i]!, tats[i]!, now);
      // <=: on a tie the narrower scope, listed later, is the one reported.
      if (remaining <= tightestRemaining) {
        tightest = i;
        tightestRemaining = remaining;
      }
    }
    report(request, reply, limits[tightest]!, tightestRemaining, tats[tightest]! - now);
  }
}

/** Buckets in Redis, one script run per check (redis-store.ts). */
export class RedisCheck implements LimitCheck {
  readonly #keyPrefixes: readonly string[];
  readonly #argv: readonly number[];

  constructor(
    private readonly limits: readonly Limit[],
    private readonly store: RedisStore,
    keyPrefix: string,
    private readonly onError: StoreFailMode,
    private readonly observer: RateLimitObserver,
  ) {
    // The limit's identity holds its parameters: a changed limit starts on fresh keys.
    this.#keyPrefixes = limits.map((limit) => `${keyPrefix}${limit.identity}:`);
    this.#argv = limits.flatMap((limit) => [limit.intervalMs, limit.burst]);
  }

  admit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const keys = this.limits.map((limit, i) => this.#keyPrefixes[i] + limit.clientKey(request));
    return this.store.take(keys, this.#argv).then((result) => {
      if (result === undefined) {
        if (this.onError === 'fail_open') return;
        request.refusal = 'RATE_LIMIT_UNAVAILABLE';
        throw refusal('RATE_LIMIT_UNAVAILABLE', 'rate limits cannot be checked right now; retry later', 1);
      }
      const refused = result[0]!;
      if (refused > 0) throw refuse(request, this.limits[refused - 1]!, this.observer, result[1]!, result[2 * refused + 1]!);
      let tightest = 0;
      for (let i = 1; i < this.limits.length; i++) if (result[2 + 2 * i]! <= result[2 + 2 * tightest]!) tightest = i;
      report(request, reply, this.limits[tightest]!, result[2 + 2 * tightest]!, result[3 + 2 * tightest]!);
    });
  }
}

/** Sets the RateLimit headers when this limit is the tightest one the request has met. */
function report(request: FastifyRequest, reply: FastifyReply, limit: Limit, remaining: number, resetMs: number): void {
  if (remaining > request.rateLimitRemaining) return;
  request.rateLimitRemaining = remaining;
  reply.header('ratelimit-policy', limit.policy);
  reply.header('ratelimit', limit.quota(remaining, resetMs));
}

function refuse(request: FastifyRequest, limit: Limit, observer: RateLimitObserver, waitMs: number, resetMs: number): GatewayError {
  observer.rateLimited(limit.scope, limit.key);
  request.refusal = 'RATE_LIMITED';
  const what = limit.scope === 'global' ? 'the gateway' : `"${limit.name}"`;
  return rateLimited(`too many requests: the rate limit of ${what} is reached; retry later`, waitMs / 1000, {
    'ratelimit-policy': limit.policy,
    ratelimit: limit.quota(0, resetMs),
  });
}
