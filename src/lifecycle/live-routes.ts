import crypto from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig, OverloadConfig, ServiceConfig } from '../config/schema.js';
import type { BoundedContext } from '../contexts/acl-route.js';
import { moduleRouteCompiler } from '../contexts/module-routes.js';
import type { RateLimitObserver } from '../policies/rate-limit/observer.js';
import { RateLimitStores, type RateLimits } from '../policies/rate-limit/rate-limits.js';
import { loadCatalog, type Catalog } from '../descriptors/catalog.js';
import { createAuthenticator, type Authenticator } from '../policies/auth.js';
import { compileClientAddress, type ClientAddressResolver } from '../policies/client-address.js';
import { JwksKeySets } from '../policies/jwks-key-set.js';
import { compileCors, type CorsPolicy } from '../policies/cors.js';
import { compileOverload } from '../policies/overload-shedding.js';
import { breakingChanges, BreakingReloadError } from '../transcoding/breaking-changes.js';
import { compileRouteSet, type RouteSet } from '../transcoding/route-set.js';
import { CallContextFactory } from '../upstreams/call-context.js';
import type { UpstreamClient, UpstreamPolicy } from '../upstreams/upstream-client.js';
import { UpstreamPool, type PoolObserver, type ServiceStatus } from '../upstreams/upstream-pool.js';
import type { UpstreamObserver } from '../upstreams/upstream.js';

/**
 * What one configuration compiles to: descriptors, upstream clients, the route table and every
 * policy's compiled form. A request takes the generation in force when it arrives
 * (`request.generation`) and finishes on it, whatever a reload swaps in meanwhile.
 */
export interface RouteGeneration {
  readonly version: number;
  /** "sha256:<hex>" of the config file's bytes; of the config's JSON when it came from code. */
  readonly hash: string;
  readonly loadedAt: Date;
  readonly config: GatewayConfig;
  /** The configured services by name. */
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly catalog: Catalog;
  readonly clients: ReadonlyMap<string, UpstreamClient>;
  readonly routes: RouteSet;
  /** Undefined without auth.jwt. */
  readonly auth: Authenticator | undefined;
  readonly cors: CorsPolicy;
  /** Load-shedding thresholds; undefined when shedding is off. */
  readonly overload: OverloadConfig | undefined;
  readonly calls: CallContextFactory;
  /** Finds a request's client address, trusting server.trustedProxies' X-Forwarded-For. */
  readonly clientAddress: ClientAddressResolver;
  readonly rateLimits: RateLimits;
}

/**
 * Holds the generation in force. A reload compiles a complete new generation first and swaps
 * one reference; if anything fails the old one keeps serving. Upstream state is kept per
 * service across reloads (upstreams/upstream-pool.ts): only removed or changed services drain
 * and close.
 */
export class LiveRoutes {
  #current: RouteGeneration;
  #version = 1;
  readonly #upstreams: UpstreamPool;
  readonly #rateLimitStores: RateLimitStores;
  /** The JWKS key sets of the issuers in force: a reload that names the same URL keeps its keys. */
  readonly #keySets: JwksKeySets;

  constructor(
    config: GatewayConfig,
    observer: PoolObserver & RateLimitObserver,
    private readonly log: FastifyBaseLogger,
    private readonly contexts: readonly BoundedContext[] = [],
    /** The client spans of tracing, fixed at start: every generation's upstream chains end with it. */
    clientSpans?: UpstreamPolicy,
  ) {
    this.#upstreams = new UpstreamPool(observer, clientSpans);
    this.#rateLimitStores = new RateLimitStores(observer, log);
    this.#keySets = new JwksKeySets(log);
    this.#current = this.#compile(config);
    this.#logRoutes(this.#current);
  }

  get current(): RouteGeneration {
    return this.#current;
  }

  /**
   * Compiles `config` and swaps it in; throws (leaving the old generation serving) when it is
   * invalid, or when it would break clients of the routes in force and does not set
   * reload.allowBreaking. The log level follows the new file's (or LOG_LEVEL's).
   */
  reload(config: GatewayConfig): RouteGeneration {
    this.#current = this.#compile(config, this.#current);
    this.log.level = config.logging.level;
    this.#logRoutes(this.#current);
    return this.#current;
  }

  /** Each service in force with its replicas, breaker and concurrency limit (for /readyz and /admin/upstreams). */
  upstreamStatus(): ServiceStatus[] {
    return this.#upstreams.status();
  }

  /** Closes every upstream channel, those of retired generations still draining included, stops refreshing the JWKS and closes the rate-limit store. */
  close(): void {
    this.#upstreams.close();
    this.#keySets.close();
    this.#rateLimitStores.close();
  }

  #compile(config: GatewayConfig, previous?: RouteGeneration): RouteGeneration {
    const catalog = loadCatalog(config.protos.includeDirs, config.services);
    const jwt = config.auth.jwt;
    const auth = jwt ? createAuthenticator(jwt, this.#keySets) : undefined;
    const cors = compileCors(config.cors);
    const clientAddress = compileClientAddress(config.server.trustedProxies);
    const calls = new CallContextFactory(config.metadata.forwardHeaders, Object.values(jwt?.forwardClaims ?? {}));
    const upstreams = this.#upstreams.prepare(config.services);
    let routes: RouteSet;
    let breaks: string[] = [];
    try {
      routes = compileRouteSet(catalog, upstreams.clients, config.server.maxJsonDepth, moduleRouteCompiler(this.contexts, config.auth.jwt !== undefined));
      if (previous) breaks = breakingChanges(previous.routes, routes);
      if (breaks.length > 0 && !config.reload.allowBreaking) throw new BreakingReloadError(breaks);
    } catch (err) {
      upstreams.discard();
      // Key sets this config alone named stop refreshing; the generation in force keeps its own.
      this.#keySets.retain(this.#current?.auth?.keySets ?? []);
      throw err;
    }
    upstreams.commit(config.shutdown.graceMs);
    this.#keySets.retain(auth?.keySets ?? []);
    if (breaks.length > 0) this.log.warn({ breaks }, `reload applied with ${breaks.length} breaking change(s), as reload.allowBreaking allows`);
    const services = new Map(config.services.map((service) => [service.name, service]));
    // Last: it retires the buckets and store connection the generation in force no longer needs.
    const rateLimits = this.#rateLimitStores.compile(config, routes);
    return {
      version: this.#version++,
      hash: config.sourceHash ?? `sha256:${crypto.createHash('sha256').update(JSON.stringify(config)).digest('hex')}`,
      loadedAt: new Date(),
      config,
      services,
      catalog,
      clients: upstreams.clients,
      routes,
      auth,
      cors,
      overload: compileOverload(config.server.overload),
      calls,
      clientAddress,
      rateLimits,
    };
  }

  #logRoutes(generation: RouteGeneration): void {
    for (const { rpc, reason } of generation.routes.unexposed) this.log.info({ rpc, reason }, `RPC ${rpc} is not exposed: ${reason}`);
    for (const { context, reason } of generation.routes.unmounted) this.log.info({ context }, `the route modules of ${context} are not mounted: ${reason}`);
  }
}
