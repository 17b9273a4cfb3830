import { create, type DescMessage, type DescMethodUnary, type Message, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { AuthModeName } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { GrpcCodeName } from '../errors/status-codes.js';
import { messageJsonWriter } from '../transcoding/response-json.js';
import type { CallContextFactory, Identity } from '../upstreams/call-context.js';
import { compileRpc, type Upstream } from '../upstreams/upstream.js';

interface RouteSchemas {
  querystring?: TSchema;
  params?: TSchema;
  body?: TSchema;
}

type StaticOf<T> = T extends TSchema ? Static<T> : undefined;

/** What a route module's mapping receives: the validated HTTP input and the caller. */
export interface AclInput<S extends RouteSchemas> {
  query: StaticOf<S['querystring']>;
  params: StaticOf<S['params']>;
  body: StaticOf<S['body']>;
  identity: Identity | undefined;
}

/**
 * A hand-written route of a bounded context: the anti-corruption layer where the public
 * shape differs from the internal one. It states only its mapping; validation, auth,
 * deadlines, cancellation, error translation and proto3 JSON output are done for it.
 * Both sides are typed from the protos, so a wrongly mapped field does not compile.
 * `Req` and `Rep` are what the mappings return (inferred by defineAclRoute).
 */
export interface AclRoute<
  I extends DescMessage,
  O extends DescMessage,
  P extends DescMessage,
  S extends RouteSchemas,
  Req = MessageInitShape<I>,
  Rep = MessageInitShape<P>,
> {
  method: HTTPMethods;
  /** Relative to the context's prefix, in Fastify syntax ('/', '/:symbol'). */
  url: string;
  summary: string;
  auth: AuthModeName;
  schema: S;
  rpc: DescMethodUnary<I, O>;
  toRequest(input: AclInput<S>): Req;
  /** The public response message; replies are its proto3 JSON. */
  reply: P;
  toReply(response: MessageShape<O>): Rep;
  /** Client-facing messages that replace the upstream's, by gRPC code. */
  errors?: Partial<Record<GrpcCodeName, string>>;
  /** Overrides the service's timeoutMs. */
  timeoutMs?: number;
}

// Erased form kept in a context's list; defineAclRoute checks the types first.
type AnyAclRoute = AclRoute<DescMessage, DescMessage, DescMessage, RouteSchemas>;

/** Values taken as they are: scalars, and whole messages (already typed field by field). */
type Opaque = string | number | bigint | boolean | Date | Uint8Array | Message | null | undefined;

/** The keys of the object members of `Shape` (a union of a message and its init form, say). */
type KeysOf<Shape> = Shape extends object ? keyof Shape : never;

/** The type of key `K` in the object members of `Shape` that have it. */
type ValueAt<Shape, K extends PropertyKey> = Shape extends object ? (K extends keyof Shape ? Shape[K] : never) : never;

/** `T` with every key that `Shape` lacks, at any depth, typed `never`. */
type Exact<Shape, T> = T extends Opaque
  ? T
  : T extends readonly (infer Item)[]
    ? readonly Exact<Shape extends readonly (infer ShapeItem)[] ? ShapeItem : never, Item>[]
    : { [K in keyof T]: K extends KeysOf<Shape> ? Exact<ValueAt<Shape, K>, T[K]> : never };

/**
 * What a mapping that returns `T` must return: `T` with no key `Shape` lacks, and `Shape` itself
 * when `T` does not fit it. The mapping's return type is inferred and then compared as a
 * function type, which skips TypeScript's excess property check: a misspelt `nam:` beside
 * `name:` would compile and send an empty field.
 */
type Checked<Shape, T> = [T] extends [Shape] ? Exact<Shape, T> : Shape & Exact<Shape, T>;

export function defineAclRoute<
  I extends DescMessage,
  O extends DescMessage,
  P extends DescMessage,
  S extends RouteSchemas,
  Req,
  Rep,
>(
  route: AclRoute<I, O, P, S, Req, Rep> & {
    toRequest(input: AclInput<S>): NoInfer<Checked<MessageInitShape<I>, Req>>;
    toReply(response: MessageShape<O>): NoInfer<Checked<MessageInitShape<P>, Rep>>;
  },
): AnyAclRoute {
  return route as unknown as AnyAclRoute;
}

/** A bounded context: a Fastify plugin under `prefix` that calls the upstream `service`. */
export interface BoundedContext {
  name: string;
  prefix: string;
  /** The `services[].name` in the config this context calls. */
  service: string;
  routes: readonly AnyAclRoute[];
}

export interface ContextDeps {
  upstream(service: string): { upstream: Upstream; timeoutMs: number } | undefined;
  calls: CallContextFactory;
}

const jsonContentType = 'application/json; charset=utf-8';

/** Registers a bounded context's routes as an encapsulated plugin under its prefix. */
export async function registerContext(app: FastifyInstance, context: BoundedContext, deps: ContextDeps): Promise<void> {
  await app.register(
    async (scope) => {
      for (const route of context.routes) {
        const rpc = compileRpc(route.rpc);
        const writeReply = messageJsonWriter(route.reply);
        const label = `${context.prefix}${route.url === '/' ? '' : route.url}`;
        scope.route({
          method: route.method,
          url: route.url,
          schema: { ...closedSchemas(route.schema), summary: route.summary, tags: [context.name] },
          config: { auth: route.auth, aclReply: route.reply },
          handler: async (request: FastifyRequest, reply: FastifyReply) => {
            request.routeLabel = label;
            const target = deps.upstream(context.service);
            if (!target) throw GatewayError.http(503, `the ${context.name} service is not configured`);
            const message = create(route.rpc.input, route.toRequest(inputOf(request)));
            const ctx = deps.calls.forCall(request, reply, request.identity, route.timeoutMs ?? target.timeoutMs);
            let response;
            try {
              response = await deps.calls.observe(request, target.upstream.unary(rpc, message, ctx));
            } catch (err) {
              throw overrideMessage(err, route.errors);
            }
            reply.header('content-type', jsonContentType);
            return reply.send(writeReply(create(route.reply, route.toReply(response))));
          },
        });
      }
    },
    { prefix: context.prefix },
  );
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The public response message of a hand-written route (for OpenAPI). */
    aclReply?: DescMessage;
  }
}

/**
 * Unknown query parameters and body fields are a 400 on route modules as on declarative
 * bindings: object schemas that do not say otherwise get additionalProperties: false (and
 * app.ts turns off Ajv's removeAdditional, which would drop them silently).
 */
function closedSchemas(schemas: RouteSchemas): RouteSchemas {
  const close = (schema: TSchema | undefined): TSchema | undefined =>
    schema && (schema as { type?: unknown }).type === 'object' && !('additionalProperties' in schema) ? ({ ...schema, additionalProperties: false } as TSchema) : schema;
  // Parts a route does not declare stay absent: Fastify warns (FSTWRN001) about a part set to undefined.
  const closed: RouteSchemas = {};
  for (const part of ['querystring', 'params', 'body'] as const) {
    const schema = close(schemas[part]);
    if (schema) closed[part] = schema;
  }
  return closed;
}

function inputOf(request: FastifyRequest): AclInput<RouteSchemas> {
  return {
    query: request.query as undefined,
    params: request.params as undefined,
    body: request.body as undefined,
    identity: request.identity,
  };
}

function overrideMessage(err: unknown, overrides: AclRoute<DescMessage, DescMessage, DescMessage, RouteSchemas>['errors']): unknown {
  if (!(err instanceof GatewayError) || !overrides) return err;
  const message = overrides[err.status as GrpcCodeName];
  // The override replaces the upstream's wording and its details: both describe internals.
  return message === undefined ? err : err.withMessage(message);
}
