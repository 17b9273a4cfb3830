import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig, ServiceConfig } from '../config/schema.js';
import { loadCatalog, type Catalog } from '../descriptors/catalog.js';
import { compileRouteSet, type RouteSet } from '../transcoding/route-set.js';
import { Upstream, type UpstreamObserver } from '../upstreams/upstream.js';

/** What one configuration compiles to: descriptors, upstream channels and the route table. */
export interface RouteGeneration {
  readonly version: number;
  readonly config: GatewayConfig;
  /** The configured services by name. */
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly catalog: Catalog;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly routes: RouteSet;
}

/**
 * Holds the route generation in force. A reload compiles a complete new generation first and
 * swaps one reference; if anything fails the old one keeps serving. Old channels close after
 * the grace period so calls already in flight on them finish.
 */
export class LiveRoutes {
  #current: RouteGeneration;
  #version = 1;
  readonly #retiring = new Set<NodeJS.Timeout>();

  constructor(
    config: GatewayConfig,
    private readonly observer: UpstreamObserver,
    private readonly log: FastifyBaseLogger,
  ) {
    this.#current = this.#compile(config);
    this.#logUnexposed(this.#current);
  }

  get current(): RouteGeneration {
    return this.#current;
  }

  /** Compiles `config` and swaps it in; throws (leaving the old routes) when it is invalid. */
  reload(config: GatewayConfig): RouteGeneration {
    const next = this.#compile(config);
    const previous = this.#current;
    this.#current = next;
    this.#logUnexposed(next);
    const timer = setTimeout(() => {
      this.#retiring.delete(timer);
      closeAll(previous.upstreams);
    }, config.shutdown.graceMs);
    timer.unref();
    this.#retiring.add(timer);
    return next;
  }

  close(): void {
    for (const timer of this.#retiring) clearTimeout(timer);
    closeAll(this.#current.upstreams);
  }

  #compile(config: GatewayConfig): RouteGeneration {
    const catalog = loadCatalog(config.protos.includeDirs, config.services);
    const upstreams = new Map<string, Upstream>();
    for (const service of catalog.services) {
      upstreams.set(
        service.config.name,
        new Upstream({ name: service.config.name, address: service.config.address, registry: catalog.registry, observer: this.observer }),
      );
    }
    try {
      const services = new Map(config.services.map((service) => [service.name, service]));
      return { version: this.#version++, config, services, catalog, upstreams, routes: compileRouteSet(catalog, upstreams) };
    } catch (err) {
      closeAll(upstreams);
      throw err;
    }
  }

  #logUnexposed(generation: RouteGeneration): void {
    for (const { rpc, reason } of generation.routes.unexposed) this.log.info({ rpc, reason }, `RPC ${rpc} is not exposed: ${reason}`);
  }
}

function closeAll(upstreams: ReadonlyMap<string, Upstream>): void {
  for (const upstream of upstreams.values()) upstream.close();
}
