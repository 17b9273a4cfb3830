import { create, type Registry } from '@bufbuild/protobuf';
import type { AuthModeName } from '../config/schema.js';
import { ProtoLoadError } from '../descriptors/proto-files.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { GrpcCodeName } from '../errors/status-codes.js';
import { invalidRequest } from '../transcoding/invalid-request.js';
import { parsePathTemplate } from '../transcoding/path-template.js';
import { messageJsonWriter } from '../transcoding/response-json.js';
import { routeAccess, type ModuleRoute, type ModuleRouteCompiler, type UnmountedContext } from '../transcoding/route-set.js';
import type { RouteEntry } from '../transcoding/route-table.js';
import type { UpstreamClient } from '../upstreams/upstream-client.js';
import { compileRpc } from '../upstreams/upstream.js';
import type { AclInput, AnyAclRoute, BoundedContext, RouteSchemas } from './acl-route.js';
import { compileModuleInput } from './module-input.js';

/**
 * Compiles the route modules of `contexts` into each route generation, for the contexts whose
 * service that generation configures: so a service added by a reload gets its route modules,
 * and a removed one loses them. A route module takes its service's scopes (services[].scopes
 * and methods.<Rpc>.scopes) like a binding. `jwtConfigured`: whether auth.jwt is set, which
 * routes that take a token need.
 */
export function moduleRouteCompiler(contexts: readonly BoundedContext[], jwtConfigured: boolean): ModuleRouteCompiler {
  return (catalog, clients, statusDetails) => {
    const entries: RouteEntry<ModuleRoute>[] = [];
    const unmounted: UnmountedContext[] = [];
    for (const context of contexts) {
      const service = catalog.services.find((s) => s.config.name === context.service);
      if (!service) {
        unmounted.push({ context: context.name, reason: `no service named "${context.service}" in the config` });
        continue;
      }
      for (const route of context.routes) {
        const settings = service.config.methods[route.rpc.name] ?? {};
        const access = routeAccess(service.config, settings, route.auth);
        if (access.auth !== 'none' && !jwtConfigured) {
          throw new ProtoLoadError(`route module ${context.name} (${route.method} ${context.prefix}${route.url}) takes a bearer token, but auth.jwt is not configured`);
        }
        const timeoutMs = route.timeoutMs ?? settings.timeoutMs ?? service.config.timeoutMs;
        const idempotent = settings.idempotent ?? route.method === 'GET';
        entries.push(compileModuleRoute(context, route, clients.get(service.config.name)!, { timeoutMs, idempotent, ...access }, statusDetails));
      }
    }
    return { entries, unmounted };
  };
}

function compileModuleRoute(
  context: BoundedContext,
  route: AnyAclRoute,
  client: UpstreamClient,
  call: { timeoutMs: number; idempotent: boolean; auth: AuthModeName; scopes: readonly string[] },
  statusDetails: Registry,
): RouteEntry<ModuleRoute> {
  const label = route.url === '/' ? context.prefix : `${context.prefix}${route.url}`;
  const describe = `${route.method} ${label} (route module ${context.name})`;
  if (/\/:/.test(route.url)) throw new ProtoLoadError(`${describe}: write path variables as {name}, not :name`);
  let template;
  try {
    template = parsePathTemplate(label);
  } catch (err) {
    throw new ProtoLoadError(`${describe}: ${(err as Error).message}`, { cause: err });
  }
  const readInput = compileModuleInput(route.schema);
  const writeReply = messageJsonWriter(route.reply);
  const compiled: ModuleRoute = {
    kind: 'route-module',
    label,
    httpMethod: route.method,
    describe,
    service: context.service,
    auth: call.auth,
    scopes: call.scopes,
    readsBody: route.schema.body !== undefined,
    streaming: false,
    timeoutMs: call.timeoutMs,
    idempotent: call.idempotent,
    rpc: compileRpc(route.rpc, statusDetails),
    client,
    context: context.name,
    summary: route.summary,
    schemas: jsonSchemas(route.schema),
    reply: route.reply,
    bind: ({ params, rawQuery, body, identity }) => {
      const input = readInput(params, rawQuery, body);
      if (!input.ok) throw invalidRequest(input.violations);
      const mapped: AclInput<RouteSchemas> = { params: input.params as undefined, query: input.query as undefined, body: input.body as undefined, identity };
      return create(route.rpc.input, route.toRequest(mapped));
    },
    render: (response) => writeReply(create(route.reply, route.toReply(response as never))),
    clientError: rewordedErrors(route.errors),
  };
  return { method: route.method, template, value: compiled, describe };
}

/** The route's own wording for some gRPC codes; it replaces the upstream's message and details, which describe internals. */
function rewordedErrors(overrides: Partial<Record<GrpcCodeName, string>> | undefined): (err: GatewayError) => GatewayError {
  if (!overrides) return (err) => err;
  return (err) => {
    const message = overrides[err.status as GrpcCodeName];
    return message === undefined ? err : err.withMessage(message);
  };
}

/** A JSON copy keeps only the JSON Schema keywords, without TypeBox's hidden ones (for OpenAPI). */
function jsonSchemas(schemas: RouteSchemas): ModuleRoute['schemas'] {
  return JSON.parse(JSON.stringify(schemas)) as ModuleRoute['schemas'];
}
