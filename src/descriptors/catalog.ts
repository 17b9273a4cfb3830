import type { DescMethod, DescService, FileRegistry } from '@bufbuild/protobuf';
import protobuf from 'protobufjs';
import type { ServiceConfig } from '../config/schema.js';
import { buildFileRegistry } from './file-registry.js';
import { extractHttpRules, type HttpRule } from './http-rules.js';
import { loadProtoSources, ProtoLoadError } from './proto-files.js';

/** One RPC of a configured service, with what the protos say about exposing it. */
export interface CatalogMethod {
  readonly method: DescMethod;
  readonly rules: readonly HttpRule[];
}

export interface CatalogService {
  readonly config: ServiceConfig;
  readonly descriptor: DescService;
  readonly methods: readonly CatalogMethod[];
}

/**
 * Everything the gateway knows from the protos of its configured services: the codec
 * registry, the HTTP rules, the fields marked REQUIRED and the comments (for OpenAPI).
 * Built once at start-up and on each reload, never per request.
 */
export interface Catalog {
  readonly registry: FileRegistry;
  readonly services: readonly CatalogService[];
  /** Fully-qualified names of fields with google.api.field_behavior = REQUIRED. */
  readonly requiredFields: ReadonlySet<string>;
  /** Proto comments by fully-qualified name (messages, fields, enums, services, methods). */
  readonly comments: ReadonlyMap<string, string>;
}

export function loadCatalog(includeDirs: readonly string[], services: readonly ServiceConfig[]): Catalog {
  const files = [...new Set(services.flatMap((s) => s.protoFiles))];
  const sources = loadProtoSources(includeDirs, files);
  const registry = buildFileRegistry(sources);
  const requiredFields = new Set<string>();
  const comments = new Map<string, string>();
  collectAnnotations(sources.root, requiredFields, comments);

  const catalogServices = services.map((config, index) => {
    const descriptor = registry.getService(config.service);
    if (!descriptor) {
      throw new ProtoLoadError(`services[${index}].service: ${config.service} is not defined in ${config.protoFiles.join(', ')}`);
    }
    const reflected = sources.root.lookupService(config.service);
    const methods = descriptor.methods.map((method) => ({
      method,
      rules: extractHttpRules(reflected.methods[method.name]!),
    }));
    return { config, descriptor, methods };
  });
  return { registry, services: catalogServices, requiredFields, comments };
}

function collectAnnotations(ns: protobuf.NamespaceBase, required: Set<string>, comments: Map<string, string>): void {
  for (const nested of ns.nestedArray) {
    const name = nested.fullName.slice(1);
    const comment = (nested as { comment?: string | null }).comment;
    if (comment) comments.set(name, comment.trim());
    if (nested instanceof protobuf.Type) {
      for (const field of nested.fieldsArray) {
        if (field.comment) comments.set(`${name}.${field.name}`, field.comment.trim());
        if (isRequired(field)) required.add(`${name}.${field.name}`);
      }
    } else if (nested instanceof protobuf.Service) {
      for (const method of nested.methodsArray) {
        if (method.comment) comments.set(`${name}.${method.name}`, method.comment.trim());
      }
    }
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) collectAnnotations(nested, required, comments);
  }
}

function isRequired(field: protobuf.Field): boolean {
  const options = (field.parsedOptions ?? []) as Record<string, unknown>[];
  return options.some((option) => {
    const value = option['(google.api.field_behavior)'];
    return value === 'REQUIRED' || (Array.isArray(value) && value.includes('REQUIRED'));
  });
}
