import type { DescMessage } from '@bufbuild/protobuf';
import type { AuthModeName } from '../config/schema.js';
import type { CompiledRoute } from '../transcoding/route-set.js';
import type { RouteEntry } from '../transcoding/route-table.js';
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
  /** Scopes the token must grant, every one. */
  readonly scopes?: readonly string[];
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

/** The route modules of a generation's route table, as the document shows them. */
export function handWrittenRoutes(entries: readonly RouteEntry<CompiledRoute>[]): HandWrittenRoute[] {
  const routes: HandWrittenRoute[] = [];
  for (const { value: route } of entries) {
    if (route.kind !== 'route-module') continue;
    const schema: RouteSchema = { ...route.schemas, summary: route.summary, tags: [route.rpc.method.parent.name] };
    routes.push({ method: route.httpMethod, path: { path: route.label, parameters: parametersOf(schema) }, schema, auth: route.auth, scopes: route.scopes, reply: route.reply });
  }
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
    ...security(route.auth, route.scopes),
  };
  if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
  return operation;
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
