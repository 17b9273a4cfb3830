import FindMyWay, { type HTTPMethod } from 'find-my-way';
import type { FastifyInstance } from 'fastify';

/**
 * The paths and methods of the hand-written route modules, so that a request for one of
 * their paths with another method gets 405 and `Allow`, like the declarative bindings,
 * instead of falling through to the catch-all's 404. Fastify's own router only answers
 * "which route", not "which methods would have matched".
 */
export class HandWrittenPaths {
  readonly #router = FindMyWay();
  readonly #methods = new Set<string>();

  /** Records every route registered on `app` from now on that carries `config.aclReply`. */
  track(app: FastifyInstance): void {
    app.addHook('onRoute', (route) => {
      if (!route.config?.aclReply) return;
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => m.toUpperCase() as HTTPMethod);
      for (const method of methods) {
        if (this.#router.find(method, route.url)) continue;
        this.#router.on(method, route.url, () => {});
        this.#methods.add(method);
      }
    });
  }

  /** The methods hand-written routes take at `path`, sorted; [] when none. */
  allowedMethods(path: string): string[] {
    return [...this.#methods].filter((method) => this.#router.find(method as HTTPMethod, path) !== null).sort();
  }
}
