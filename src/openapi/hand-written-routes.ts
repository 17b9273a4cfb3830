import type { DescMessage } from '@bufbuild/protobuf';
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { AuthModeName } from '../config/schema.js';
import type { JsonSchema, MessageSchemas } from './message-schemas.js';
import { responses, security, type OperationIds, type Operation } from './operations.js';
import type { OpenApiParameter, RenderedPath } from './path-rendering.js';

/** A route module's route (src/contexts/acl-route.ts), as far as the document needs it. */
export interface HandWrittenRoute {
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly path: RenderedPath;
  readonly schema: RouteSchema;
  readonly auth: AuthModeName | undefined;
  readonly reply: DescMessage;
}

interface RouteSchema {
  querystring?: JsonSchema;
  params?: JsonSchema;
  body?: JsonSchema;
  summary?: string;
  description?: string;
  tags?: string[];
  operationId?: string;
}

/**
 * Records the routes that declare a public reply message (config.aclReply) as they are
 * added; only routes registered after this call are seen. Health, metrics and docs routes
 * declare none, so they stay out of the document. HEAD twins of GET routes are left out, as
 * for declarative bindings.
 */
export function collectHandWrittenRoutes(app: FastifyInstance): readonly HandWrittenRoute[] {
  const routes: HandWrittenRoute[] = [];
  const seen = new Set<string>();
  app.addHook('onRoute', (options: RouteOptions) => {
    const reply = options.config?.aclReply;
    if (!reply) return;
    // A "/" route under a prefix is registered with and without the trailing slash.
    const url = options.url.length > 1 ? options.url.replace(/\/$/, '') : options.url;
    const path = openApiPath(url);
    // A JSON copy keeps only the JSON Schema keywords, without TypeBox's hidden ones.
    const schema = JSON.parse(JSON.stringify(options.schema ?? {})) as RouteSchema;
    for (const method of [options.method].flat().map((m) => m.toUpperCase())) {
      if (method === 'HEAD' || seen.has(`${method} ${url}`)) continue;
      seen.add(`${method} ${url}`);
      routes.push({ method, path: { path, parameters: parametersOf(schema) }, schema, auth: options.config?.auth, reply });
    }
  });
  return routes;
}

export function handWrittenOperation(route: HandWrittenRoute, path: RenderedPath, schemas: MessageSchemas, ids: OperationIds): Operation {
  const { schema } = route;
  const operation: Operation = {
    operationId: ids.claim(schema.operationId ?? `${route.method.toLowerCase()}${path.path.replace(/[^A-Za-z0-9]+/g, '_').replace(/_$/, '')}`),
    tags: schema.tags ?? [],
    ...(schema.summary !== undefined && { summary: schema.summary }),
    ...(schema.description !== undefined && { description: schema.description }),
    ...(path.parameters.length > 0 && { parameters: [...path.parameters] }),
    responses: responses(schemas.message(route.reply), false),
    ...security(route.auth),
  };
  if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
  return operation;
}

/** "/v1/investor/:symbol" → "/v1/investor/{symbol}" (a regex constraint is dropped). */
function openApiPath(url: string): string {
  return url.replace(/:(\w+)(\([^)]*\))?/g, '{$1}');
}

function parametersOf(schema: RouteSchema): OpenApiParameter[] {
  return [...propertyParameters(schema.params, 'path'), ...propertyParameters(schema.querystring, 'query')];
}

/** One parameter per property of an object schema, its description lifted to the parameter. */
function propertyParameters(object: JsonSchema | undefined, where: 'path' | 'query'): OpenApiParameter[] {
  const properties = (object?.['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object?.['required'] ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...schema } = property;
    return {
      name,
      in: where,
      ...((where === 'path' || required.has(name)) && { required: true }),
      ...(typeof description === 'string' && { description }),
      schema,
      ...(schema['type'] === 'array' && { style: 'form' as const, explode: true }),
    };
  });
}
