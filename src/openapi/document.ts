import type { Catalog } from '../descriptors/catalog.js';
import { bindingOperation, renderBindingPath, type BindingEntry } from './binding-operations.js';
import { handWrittenOperation, type HandWrittenRoute } from './hand-written-routes.js';
import { MessageSchemas, type JsonSchema } from './message-schemas.js';
import { bearerAuthScheme, errorEnvelopeName, errorEnvelopeSchema, OperationIds, type Operation } from './operations.js';
import { layoutPaths, type PathCandidate } from './path-layout.js';

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, unknown> };
}

export interface DocumentSources {
  readonly catalog: Catalog;
  readonly bindings: readonly BindingEntry[];
  readonly handWritten: readonly HandWrittenRoute[];
  readonly version: string;
}

/** A binding or hand-written route that the document cannot show, and why. */
export interface OmittedRoute {
  readonly route: string;
  readonly reason: string;
}

type Item = { kind: 'binding'; entry: BindingEntry } | { kind: 'hand-written'; route: HandWrittenRoute };

/** OpenAPI has no place for other methods (a google.api.http custom kind may be anything). */
const operationMethods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Builds the OpenAPI 3.1 document of one route generation: hand-written routes first (they
 * win over bindings at run time too), then every google.api.http binding.
 */
export function buildDocument(sources: DocumentSources): { document: OpenApiDocument; omitted: OmittedRoute[] } {
  const schemas = new MessageSchemas(sources.catalog);
  const ids = new OperationIds();
  const omitted: OmittedRoute[] = [];
  const candidates: PathCandidate<Item>[] = [];
  const add = (method: string, describe: string, render: PathCandidate<Item>['render'], item: Item): void => {
    const key = method.toLowerCase();
    if (operationMethods.has(key)) candidates.push({ method: key, render, item });
    else omitted.push({ route: describe, reason: `OpenAPI has no ${method} operations` });
  };
  for (const route of sources.handWritten) add(route.method, `${route.method} ${route.path.path}`, () => route.path, { kind: 'hand-written', route });
  for (const entry of sources.bindings) add(entry.method, entry.describe, (form) => renderBindingPath(entry, schemas, form), { kind: 'binding', entry });

  const layout = layoutPaths(candidates);
  for (const { item } of layout.omitted) {
    const route = item.kind === 'binding' ? item.entry.describe : `${item.route.method} ${item.route.path.path}`;
    omitted.push({ route, reason: 'its OpenAPI path collides with another route' });
  }

  const paths: OpenApiDocument['paths'] = {};
  for (const { candidate, rendered } of layout.placed) {
    const { item } = candidate;
    const operation =
      item.kind === 'binding' ? bindingOperation(item.entry, rendered, schemas, ids) : handWrittenOperation(item.route, rendered, schemas, ids);
    (paths[rendered.path] ??= {})[candidate.method] = operation;
  }

  return {
    document: {
      openapi: '3.1.0',
      info: {
        title: 'Portico',
        version: sources.version,
        description: 'REST/JSON gateway to gRPC services. Request and response bodies are proto3 JSON; errors share one envelope.',
      },
      tags: tagsOf(paths, sources.catalog),
      paths,
      components: {
        schemas: { ...schemas.components, [errorEnvelopeName]: errorEnvelopeSchema },
        securitySchemes: { bearerAuth: bearerAuthScheme },
      },
    },
    omitted,
  };
}

/** The tags in use, in order of first use, described by their service's comment. */
function tagsOf(paths: OpenApiDocument['paths'], catalog: Catalog): OpenApiDocument['tags'] {
  const comments = new Map(catalog.services.map((s) => [s.descriptor.name, catalog.comments.get(s.descriptor.typeName)]));
  const tags = new Map<string, OpenApiDocument['tags'][number]>();
  for (const operation of Object.values(paths).flatMap((item) => Object.values(item))) {
    for (const name of operation.tags) {
      const description = comments.get(name);
      if (!tags.has(name)) tags.set(name, { name, ...(description !== undefined && { description }) });
    }
  }
  return [...tags.values()];
}
