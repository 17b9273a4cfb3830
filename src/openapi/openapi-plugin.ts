import { createRequire } from 'node:module';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { LiveRoutes } from '../lifecycle/live-routes.js';
import { buildDocument, type OpenApiDocument } from './document.js';
import type { BindingEntry } from './binding-operations.js';
import { handWrittenRoutes } from './hand-written-routes.js';

// package.json is two levels up from both src/openapi and dist/openapi.
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * Serves the OpenAPI document at GET /openapi.json and Swagger UI at /docs: every route of the
 * generation in force, declarative bindings and route modules alike.
 *
 * The document is generated from the route generation in force and cached per generation,
 * so it follows config reloads. @fastify/swagger cannot do that: it caches the first
 * document it builds, in static and dynamic mode alike. It is registered only because
 * @fastify/swagger-ui depends on it, with a stub; the UI's transformSpecification hook hands
 * it the generated document instead.
 */
export async function registerOpenApi(app: FastifyInstance, live: LiveRoutes): Promise<void> {
  // Registered always, in a scope of its own, so that openapi.enabled follows a reload: off,
  // both paths are a 404 like any unknown path.
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (!live.current.config.openapi.enabled) return reply.callNotFound();
    });
    await serveDocuments(scope, live);
  });
}

async function serveDocuments(app: FastifyInstance, live: LiveRoutes): Promise<void> {
  let cached: { version: number; document: OpenApiDocument; json: string } | undefined;

  const current = (): NonNullable<typeof cached> => {
    const generation = live.current;
    if (cached?.version !== generation.version) {
      const entries = generation.routes.table.entries;
      const bindings = entries.filter((entry): entry is BindingEntry => entry.value.kind === 'binding');
      const { document, omitted } = buildDocument({ catalog: generation.catalog, bindings, handWritten: handWrittenRoutes(entries), version });
      for (const { route, reason } of omitted) app.log.warn({ route }, `${route} is left out of the OpenAPI document: ${reason}`);
      cached = { version: generation.version, document, json: JSON.stringify(document) };
    }
    return cached;
  };

  app.get('/openapi.json', async (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8');
    return reply.send(current().json);
  });

  await app.register(fastifySwagger, {
    mode: 'static',
    specification: { document: { openapi: '3.1.0', info: { title: 'Portico', version }, paths: {} } },
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: '/docs',
    transformSpecificationClone: false,
    transformSpecification: () => current().document,
  });
}
