import type { DescMessage, DescMethodUnary, Message, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { HTTPMethods } from 'fastify';
import type { Static, TSchema } from 'typebox';
import type { AuthModeName } from '../config/schema.js';
import type { GrpcCodeName } from '../errors/status-codes.js';
import type { Identity } from '../upstreams/call-context.js';

export interface RouteSchemas {
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
 * deadlines, cancellation, error translation and proto3 JSON output are done for it, by the
 * same pipeline as the declarative bindings.
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
  /**
   * Relative to the context's prefix, in the path template syntax of google.api.http
   * ('/', '/{symbol}'); each variable is a property of `schema.params`.
   */
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
export type AnyAclRoute = AclRoute<DescMessage, DescMessage, DescMessage, RouteSchemas>;

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

/**
 * A bounded context: route modules under `prefix` that call the upstream `service`. They are
 * compiled into every route generation where the service is configured (module-routes.ts),
 * beside the declarative bindings, and run the same request pipeline.
 */
export interface BoundedContext {
  name: string;
  prefix: string;
  /** The `services[].name` in the config this context calls. */
  service: string;
  routes: readonly AnyAclRoute[];
}
