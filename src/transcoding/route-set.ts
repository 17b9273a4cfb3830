import type { DescField, DescMessage, Message, Registry } from '@bufbuild/protobuf';
import type { AuthModeName } from '../config/schema.js';
import type { Catalog } from '../descriptors/catalog.js';
import type { HttpRule } from '../descriptors/http-rules.js';
import { ProtoLoadError } from '../descriptors/proto-files.js';
import { compileRpc, type CompiledRpc, type Upstream } from '../upstreams/upstream.js';
import { parsePathTemplate } from './path-template.js';
import { compileRequestBinding, type RequestBinding } from './request-binding.js';
import { compileResponseRenderer } from './response-json.js';
import { buildRouteTable, type RouteEntry, type RouteTable } from './route-table.js';
import type { ValidationOptions } from './field-violations.js';

/** Everything needed to serve one HTTP binding, compiled once per (re)load. */
export interface TranscodedRoute {
  /** The template as written in the proto: the metrics and log label. */
  readonly label: string;
  readonly httpMethod: string;
  readonly upstream: Upstream;
  readonly rpc: CompiledRpc;
  readonly input: DescMessage;
  readonly output: DescMessage;
  readonly streaming: boolean;
  readonly binding: RequestBinding;
  /** The rule's body: '*' for the whole request message, a top-level field name, or undefined. */
  readonly body: string | undefined;
  /** The response field sent instead of the whole message (response_body). */
  readonly responseField: DescField | undefined;
  readonly auth: AuthModeName;
  /** Unary deadline, or the stream deadline (undefined: none). */
  readonly timeoutMs: number | undefined;
  readonly validation: ValidationOptions;
  readonly registry: Registry;
  readonly describe: string;
  /** The proto3 JSON of a response (or of its responseField), compiled for the output type. */
  readonly render: (response: Message) => string;
}

/** An RPC of a configured service that no binding exposes, and why. */
export interface UnexposedRpc {
  readonly rpc: string;
  readonly reason: string;
}

export interface RouteSet {
  readonly table: RouteTable<TranscodedRoute>;
  readonly unexposed: readonly UnexposedRpc[];
}

/** Compiles every google.api.http binding of the catalog's services into one route table. */
export function compileRouteSet(catalog: Catalog, upstreams: ReadonlyMap<string, Upstream>): RouteSet {
  const entries: RouteEntry<TranscodedRoute>[] = [];
  const unexposed: UnexposedRpc[] = [];
  for (const service of catalog.services) {
    const upstream = upstreams.get(service.config.name)!;
    const validation: ValidationOptions = {
      allowUnknownFields: service.config.allowUnknownFields,
      requiredFields: catalog.requiredFields,
      registry: catalog.registry,
    };
    for (const { method, rules } of service.methods) {
      const rpcName = `${service.descriptor.typeName}.${method.name}`;
      if (rules.length === 0) {
        unexposed.push({ rpc: rpcName, reason: 'no google.api.http annotation' });
        continue;
      }
      if (method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming') {
        unexposed.push({ rpc: rpcName, reason: `${method.methodKind.replace('_', '-')} RPCs are not exposed over HTTP/JSON` });
        continue;
      }
      const rpc = compileRpc(method);
      const streaming = method.methodKind === 'server_streaming';
      for (const rule of rules) {
        const describe = `${rule.method} ${rule.path} (${rpcName})`;
        const template = withContext(describe, () => parsePathTemplate(rule.path));
        const binding = withContext(describe, () =>
          compileRequestBinding(
            method.input,
            { body: rule.body, pathFields: template.variables.map((v) => v.fieldPath.join('.')) },
            { allowUnknownFields: service.config.allowUnknownFields },
          ),
        );
        const responseField = responseFieldOf(method.output, rule, describe);
        const route: TranscodedRoute = {
          label: rule.path,
          httpMethod: rule.method,
          upstream,
          rpc,
          input: method.input,
          output: method.output,
          streaming,
          binding,
          body: rule.body,
          responseField,
          auth: service.config.auth,
          timeoutMs: streaming ? service.config.streamTimeoutMs : service.config.timeoutMs,
          validation,
          registry: catalog.registry,
          describe,
          render: compileResponseRenderer(method.output, responseField, catalog.registry),
        };
        entries.push({ method: rule.method, template, value: route, describe });
      }
    }
  }
  return { table: buildRouteTable(entries), unexposed };
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
