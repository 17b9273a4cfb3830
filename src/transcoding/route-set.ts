import { fromJson, type DescField, type DescMessage, type Message, type Registry } from '@bufbuild/protobuf';
import type { AuthModeName, MethodConfig, ServiceConfig } from '../config/schema.js';
import type { Catalog, CatalogService } from '../descriptors/catalog.js';
import type { HttpRule } from '../descriptors/http-rules.js';
import { ProtoLoadError } from '../descriptors/proto-files.js';
import { badRequestDetail, GatewayError } from '../errors/gateway-error.js';
import type { Identity } from '../upstreams/call-context.js';
import { detailsRegistry } from '../upstreams/status-details.js';
import type { UpstreamClient } from '../upstreams/upstream-client.js';
import { compileRpc, type CompiledRpc } from '../upstreams/upstream.js';
import { keptIntegerLiterals } from './exact-json.js';
import { validateMessageJson, type ValidationOptions } from './field-violations.js';
import { invalidRequest } from './invalid-request.js';
import { parsePathTemplate } from './path-template.js';
import { compileRequestBinding, RequestBindingError, type RequestBinding } from './request-binding.js';
import { compileResponseRenderer } from './response-json.js';
import { buildRouteTable, type RouteEntry, type RouteTable } from './route-table.js';
import { restoreStructNumbers } from './struct-numbers.js';

/** What a request brings to its route, once matched and authenticated. */
export interface RouteInput {
  /** Decoded path variables by dotted field path. */
  readonly params: ReadonlyMap<string, string>;
  /** The query string without "?", possibly ''. */
  readonly rawQuery: string;
  /** The parsed JSON body; undefined when the route reads none. */
  readonly body: unknown;
  readonly identity: Identity | undefined;
}

/**
 * A route as the one request pipeline runs it (transcoding/route-pipeline.ts), whichever way
 * it was declared: a google.api.http binding or a route module of a bounded context. Compiled
 * once per route generation.
 */
export interface GatewayRoute {
  /** The path template (`/v1/tickers/{symbol}`): the metrics and log label. */
  readonly label: string;
  readonly httpMethod: string;
  /** For errors and logs, e.g. "GET /v1/x (acme.v1.Svc.Get)". */
  readonly describe: string;
  /** The configured service (`services[].name`) this route calls. */
  readonly service: string;
  /** `required` whenever the route has scopes. */
  readonly auth: AuthModeName;
  /** Scopes the token must grant, every one: the service's and the RPC's (services[].scopes, services[].methods.<Rpc>.scopes). */
  readonly scopes: readonly string[];
  /** Whether the request's body is read and bound (it must then be JSON). */
  readonly readsBody: boolean;
  readonly streaming: boolean;
  /** Unary deadline, or the stream deadline (undefined: none). */
  readonly timeoutMs: number | undefined;
  /** Whether the RPC may be called twice for one request: all its bindings are GET, or the config says so. */
  readonly idempotent: boolean;
  readonly rpc: CompiledRpc;
  readonly client: UpstreamClient;
  /** The upstream request; throws a 400 GatewayError naming every bad field. */
  bind(input: RouteInput): Message;
  /** The response body: proto3 JSON. */
  render(response: Message): string;
  /** What the client is told when the call fails (a route module may reword it). */
  clientError(err: GatewayError): GatewayError;
}

/** A google.api.http binding, with what OpenAPI needs to describe it. */
export interface TranscodedRoute extends GatewayRoute {
  readonly kind: 'binding';
  readonly input: DescMessage;
  readonly output: DescMessage;
  /** The rule's body: '*' for the whole request message, a top-level field name, or undefined. */
  readonly body: string | undefined;
  /** The response field sent instead of the whole message (response_body). */
  readonly responseField: DescField | undefined;
}

/** A route of a route module (contexts/acl-route.ts), compiled by compileModuleRoutes. */
export interface ModuleRoute extends GatewayRoute {
  readonly kind: 'route-module';
  /** The bounded context's name. */
  readonly context: string;
  readonly summary: string;
  /** The TypeBox schemas of its parameters, query and body, as JSON Schema. */
  readonly schemas: { readonly params?: JsonObject; readonly querystring?: JsonObject; readonly body?: JsonObject };
  readonly reply: DescMessage;
}

export type CompiledRoute = TranscodedRoute | ModuleRoute;

type JsonObject = Record<string, unknown>;

/** An RPC of a configured service that no route exposes, and why. */
export interface UnexposedRpc {
  readonly rpc: string;
  readonly reason: string;
}

export interface RouteSet {
  readonly table: RouteTable<CompiledRoute>;
  /** Fully-qualified names of the fields marked google.api.field_behavior = REQUIRED. */
  readonly requiredFields: ReadonlySet<string>;
  readonly unexposed: readonly UnexposedRpc[];
  /** Bounded contexts whose route modules are not mounted, and why. */
  readonly unmounted: readonly UnmountedContext[];
}

export interface UnmountedContext {
  readonly context: string;
  readonly reason: string;
}

/** "9 bindings and 4 route modules", for the start-up and reload logs. */
export function describeRoutes(routes: RouteSet): string {
  const modules = routes.table.entries.filter((e) => e.value.kind === 'route-module').length;
  const bindings = routes.table.entries.length - modules;
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  return `${count(bindings, 'binding')} and ${count(modules, 'route module')}`;
}

/** Compiles the route modules of a generation; see contexts/acl-route.ts. */
export type ModuleRouteCompiler = (catalog: Catalog, clients: ReadonlyMap<string, UpstreamClient>, statusDetails: Registry) => {
  entries: RouteEntry<ModuleRoute>[];
  unmounted: UnmountedContext[];
};

/**
 * Compiles every route of a generation into one route table: each google.api.http binding of
 * the catalog's services, and the route modules of the bounded contexts whose service is
 * configured. Two routes of the same method and path shape are a RouteConflictError.
 */
/** `maxJsonDepth`: server.maxJsonDepth, which JSON in query parameters is held to as well. */
export function compileRouteSet(catalog: Catalog, clients: ReadonlyMap<string, UpstreamClient>, maxJsonDepth: number, modules?: ModuleRouteCompiler): RouteSet {
  const statusDetails = detailsRegistry(catalog.registry);
  const entries: RouteEntry<CompiledRoute>[] = [];
  const unexposed: UnexposedRpc[] = [];
  const moduleRoutes = modules?.(catalog, clients, statusDetails) ?? { entries: [], unmounted: [] };
  const servedByModules = new Set(moduleRoutes.entries.map((e) => `${e.value.rpc.method.parent.typeName}.${e.value.rpc.name}`));
  // A route module may take over a binding's method and path: the public shape it gives wins.
  const takenOver = new Map(moduleRoutes.entries.map((e) => [`${e.method} ${e.template.shape}`, e.value]));
  for (const service of catalog.services) {
    const client = clients.get(service.config.name)!;
    const validation: ValidationOptions = {
      allowUnknownFields: service.config.allowUnknownFields,
      requiredFields: catalog.requiredFields,
      registry: catalog.registry,
    };
    checkMethodNames(service);
    for (const { method, rules } of service.methods) {
      const rpcName = `${service.descriptor.typeName}.${method.name}`;
      const settings = service.config.methods[method.name] ?? {};
      const idempotent = settings.idempotent ?? (rules.length > 0 && rules.every((rule) => rule.method === 'GET'));
      if (rules.length === 0) {
        if (!servedByModules.has(rpcName)) unexposed.push({ rpc: rpcName, reason: 'no google.api.http annotation' });
        continue;
      }
      if (method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming') {
        unexposed.push({ rpc: rpcName, reason: `${method.methodKind.replace('_', '-')} RPCs are not exposed over HTTP/JSON` });
        continue;
      }
      const rpc = compileRpc(method, statusDetails);
      const streaming = method.methodKind === 'server_streaming';
      for (const rule of rules) {
        const describe = `${rule.method} ${rule.path} (${rpcName})`;
        const template = withContext(describe, () => parsePathTemplate(rule.path));
        const module = takenOver.get(`${rule.method} ${template.shape}`);
        if (module) {
          unexposed.push({ rpc: rpcName, reason: `${rule.method} ${rule.path} is served by a route module of ${module.context}` });
          continue;
        }
        const binding = withContext(describe, () =>
          compileRequestBinding(
            method.input,
            { body: rule.body, pathFields: template.variables.map((v) => v.fieldPath.join('.')) },
            { allowUnknownFields: service.config.allowUnknownFields, maxJsonDepth },
          ),
        );
        const responseField = responseFieldOf(method.output, rule, describe);
        const route: TranscodedRoute = {
          kind: 'binding',
          label: rule.path,
          httpMethod: rule.method,
          describe,
          service: service.config.name,
          ...routeAccess(service.config, settings, service.config.auth),
          readsBody: rule.body !== undefined,
          streaming,
          timeoutMs: streaming ? service.config.streamTimeoutMs : (settings.timeoutMs ?? service.config.timeoutMs),
          idempotent,
          rpc,
          client,
          input: method.input,
          output: method.output,
          body: rule.body,
          responseField,
          bind: ({ params, rawQuery, body }) => bindRequest(method.input, binding, validation, params, rawQuery, body),
          render: compileResponseRenderer(method.output, responseField, catalog.registry),
          clientError: (err) => err,
        };
        entries.push({ method: rule.method, template, value: route, describe });
      }
    }
  }
  return { table: buildRouteTable([...moduleRoutes.entries, ...entries]), requiredFields: catalog.requiredFields, unexposed, unmounted: moduleRoutes.unmounted };
}

/**
 * The scopes a route of `service` requires (the service's, then the RPC's) and its auth mode:
 * scopes are read from a verified token, so a route with scopes requires one whatever its
 * declared `auth`.
 */
export function routeAccess(service: ServiceConfig, method: MethodConfig, auth: AuthModeName): { auth: AuthModeName; scopes: readonly string[] } {
  const scopes = [...new Set([...service.scopes, ...(method.scopes ?? [])])];
  return { auth: scopes.length > 0 ? 'required' : auth, scopes };
}

/** `services[].methods` may only name RPCs of the service. */
function checkMethodNames(service: CatalogService): void {
  const known = new Set(service.methods.map(({ method }) => method.name));
  for (const name of Object.keys(service.config.methods)) {
    if (!known.has(name)) {
      throw new ProtoLoadError(`services "${service.config.name}" methods.${name}: ${service.descriptor.typeName} has no RPC ${name} (it has ${[...known].join(', ')})`);
    }
  }
}

/** Path, query and body into the request message, checked against the proto3 JSON rules. */
function bindRequest(
  input: DescMessage,
  binding: RequestBinding,
  validation: ValidationOptions,
  params: ReadonlyMap<string, string>,
  rawQuery: string,
  body: unknown,
): Message {
  let json: Record<string, unknown>;
  try {
    json = binding.build(params, rawQuery, body);
  } catch (err) {
    if (err instanceof RequestBindingError) throw invalidRequest(err.violations);
    throw err;
  }
  const literals = keptIntegerLiterals(body);
  if (literals) restoreStructNumbers(input, json, literals);
  const violations = validateMessageJson(input, json, validation);
  if (violations.length > 0) throw invalidRequest(violations);
  try {
    return fromJson(input, json as never, { registry: validation.registry, ignoreUnknownFields: validation.allowUnknownFields });
  } catch (err) {
    // The validator mirrors fromJson's rules; this only catches what it does not model.
    throw GatewayError.http(400, 'invalid request', [badRequestDetail([{ field: '', description: (err as Error).message }])]);
  }
}

function responseFieldOf(output: DescMessage, rule: HttpRule, describe: string): DescField | undefined {
  if (rule.responseBody === undefined) return undefined;
  const field = output.fields.find((f) => f.name === rule.responseBody);
  if (!field) throw new ProtoLoadError(`${describe}: response_body "${rule.responseBody}" is not a field of ${output.typeName}`);
  return field;
}

function withContext<T>(describe: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    throw new ProtoLoadError(`${describe}: ${(err as Error).message}`, { cause: err });
  }
}
