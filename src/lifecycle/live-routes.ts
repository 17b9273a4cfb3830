import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig, ServiceConfig } from '../config/schema.js';
import type { BoundedContext } from '../contexts/acl-route.js';
import { moduleRouteCompiler } from '../contexts/module-routes.js';
import type { RateLimitObserver } from '../policies/rate-limit/observer.js';
import { RateLimitStores, type RateLimits } from '../policies/rate-limit/rate-limits.js';
import { loadCatalog, type Catalog } from '../descriptors/catalog.js';
import { compileRouteSet, type RouteSet } from '../transcoding/route-set.js';
import type { UpstreamClient } from '../upstreams/upstream-client.js';
import { UpstreamPool, type PoolObserver, type ServiceStatus } from '../upstreams/upstream-pool.js';
import type { UpstreamObserver } from '../upstreams/upstream.js';

/** What one configuration compiles to: descriptors, upstream clients and the route table. */
export interface RouteGeneration {
  readonly version: number;
  readonly config: GatewayConfig;
  /** The configured services by name. */
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly catalog: Catalog;
  readonly clients: ReadonlyMap<string, UpstreamClient>;
  readonly routes: RouteSet;
  readonly rateLimits: RateLimits;
}

/**
 * Holds the route generation in force. A reload compiles a complete new generation first and
 * swaps one reference; if anything fails the old one keeps serving. Upstream state is kept per
 * service across reloads (upstreams/upstream-pool.ts): only removed or changed services drain
 * and close.
 */
export class LiveRoutes {
  #current: RouteGeneration;
  #version = 1;
  readonly #upstreams: UpstreamPool;
  readonly #rateLimitStores: RateLimitStores;

  constructor(
    config: GatewayConfig,
    observer: PoolObserver & RateLimitObserver,
    private readonly log: FastifyBaseLogger,
    private readonly contexts: readonly BoundedContext[] = [],
  ) {
    this.#upstreams = new UpstreamPool(observer);
    this.#rateLimitStores = new RateLimitStores(observer, log);
    this.#current = this.#compile(config);
    this.#logRoutes(this.#current);
  }

  get current(): RouteGeneration {
    return this.#current;
  }

  /** Compiles `config` and swaps it in; throws (leaving the old routes) when it is invalid. */
  reload(config: GatewayConfig): RouteGeneration {
    this.#current = this.#compile(config);
    this.#logRoutes(this.#current);
    return this.#current;
  }

  /** Each service in force with its replicas' health and breaker state (for /readyz). */
  upstreamStatus(): ServiceStatus[] {
    return this.#upstreams.status();
  }

  /** Closes every upstream channel, those of retired generations still draining included, and the rate-limit store. */
  close(): void {
    this.#upstreams.close();
    this.#rateLimitStores.close();
  }

  #compile(config: GatewayConfig): RouteGeneration {
    const catalog = loadCatalog(config.protos.includeDirs, config.services);
    const upstreams = this.#upstreams.prepare(config.services);
    let routes: RouteSet;
    try {
      routes = compileRouteSet(catalog, upstreams.clients, moduleRouteCompiler(this.contexts, config.auth.jwt !== undefined));
    } catch (err) {
      upstreams.discard();
      throw err;
    }
    upstreams.commit(config.shutdown.graceMs);
    const services = new Map(config.services.map((service) => [service.name, service]));
    // Last: it retires the buckets and store connection the generation in force no longer needs.
    const rateLimits = this.#rateLimitStores.compile(config, routes);
    return { version: this.#version++, config, services, catalog, clients: upstreams.clients, routes, rateLimits };
  }

  #logRoutes(generation: RouteGeneration): void {
    for (const { rpc, reason } of generation.routes.unexposed) this.log.info({ rpc, reason }, `RPC ${rpc} is not exposed: ${reason}`);
    for (const { context, reason } of generation.routes.unmounted) this.log.info({ context }, `the route modules of ${context} are not mounted: ${reason}`);
  }
}
