import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../../config/schema.js';
import type { GatewayRoute, RouteSet } from '../../transcoding/route-set.js';
import { MemoryCheck, RedisCheck, type LimitCheck } from './checks.js';
import { Limit } from './limit.js';
import { MemoryStore } from './memory-store.js';
import type { RateLimitObserver } from './observer.js';
import { RedisStore } from './redis-store.js';

/** A generation's rate limits, compiled: what each request checks, found without lookups by name. */
export interface RateLimits {
  /** rateLimit.global, checked before routing; undefined when not configured. */
  readonly global: LimitCheck | undefined;
  /** The limits of a route (its service's and its RPC's, in one check); undefined when it has none. */
  forRoute(route: GatewayRoute): LimitCheck | undefined;
}

/**
 * Where buckets live, for the lifetime of the gateway (owned by LiveRoutes): the in-memory
 * buckets by limit identity and the Redis connection. Each generation compiles its limits
 * against it, so a limit a reload leaves unchanged keeps its buckets.
 */
export class RateLimitStores {
  readonly #memory = new MemoryStore();
  #redis: RedisStore | undefined;

  constructor(
    private readonly observer: RateLimitObserver,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * The limits of `config` over the routes of its generation, each route's list built here once.
   * Call it last in a generation's compile: it retires the buckets and the Redis connection the
   * previous generation used and this one does not.
   */
  compile(config: GatewayConfig, routes: RouteSet): RateLimits {
    const { global, store, redis } = config.rateLimit;
    const inMemory = new Set<string>();
    let checkOf: (limits: Limit[]) => LimitCheck;
    if (store === 'redis' && redis) {
      if (this.#redis?.url !== redis.url) {
        this.#redis?.close();
        this.#redis = new RedisStore(redis.url, redis.onError, this.observer, this.log);
      }
      const client = this.#redis;
      client.onError = redis.onError;
      checkOf = (limits) => new RedisCheck(limits, client, redis.keyPrefix, redis.onError, this.observer);
    } else {
      this.#redis?.close();
      this.#redis = undefined;
      checkOf = (limits) => {
        for (const limit of limits) inMemory.add(limit.identity);
        return new MemoryCheck(limits, limits.map((limit) => this.#memory.bucketsOf(limit.identity)), this.observer);
      };
    }

    const globalLimit = global && new Limit('global', 'global', global);
    const services = new Map(config.services.map((s) => [s.name, s]));
    const serviceLimits = new Map(config.services.flatMap((s) => (s.rateLimit ? [[s.name, new Limit('service', s.name, s.rateLimit)] as const] : [])));
    const checks = new Map<string, LimitCheck | undefined>();
    const byRoute = new Map<GatewayRoute, LimitCheck>();
    for (const { value: route } of routes.table.entries) {
      const rpc = `${route.service}.${route.rpc.name}`;
      if (!checks.has(rpc)) {
        const methodLimit = services.get(route.service)?.methods[route.rpc.name]?.rateLimit;
        const limits = [serviceLimits.get(route.service), methodLimit && new Limit('method', rpc, methodLimit)].filter((limit) => limit !== undefined);
        checks.set(rpc, limits.length > 0 ? checkOf(limits) : undefined);
      }
      const check = checks.get(rpc);
      if (check) byRoute.set(route, check);
    }

    const globalCheck = globalLimit && checkOf([globalLimit]);
    this.#memory.retainOnly(inMemory);
    return { global: globalCheck, forRoute: (route) => byRoute.get(route) };
  }

  close(): void {
    this.#redis?.close();
    this.#redis = undefined;
  }
}
