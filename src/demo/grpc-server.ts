import { once, type EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import {
  create,
  fromBinary,
  toBinary,
  type DescMethod,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { StatusSchema } from '../gen/google/rpc/status_pb.js';

/*
 * grpc-js knows nothing about @bufbuild/protobuf: it wants a ServiceDefinition with
 * serializers and untyped handlers. This module derives both from a generated service
 * descriptor, so the demo backends are written as typed async functions over generated
 * message types and grpc-js stays an implementation detail.
 */

/** The grpc-js definition of `service`, keyed by each method's localName (e.g. "getInvestor"). */
export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((method): [string, grpc.MethodDefinition<object, object>] => [
      method.localName,
      {
        path: `/${service.typeName}/${method.name}`,
        originalName: method.name,
        requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
        responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
        requestSerialize: (value) => Buffer.from(toBinary(method.input, value as Message)),
        requestDeserialize: (bytes) => fromBinary(method.input, bytes),
        responseSerialize: (value) => Buffer.from(toBinary(method.output, value as Message)),
        responseDeserialize: (bytes) => fromBinary(method.output, bytes),
      },
    ]),
  );
}

/** An error that reaches the caller with its own status code instead of INTERNAL. */
export class GrpcStatusError extends Error {
  override name = 'GrpcStatusError';
  /** grpc-js reads the status message from `details`. */
  readonly details: string;

  constructor(
    readonly code: grpc.status,
    message: string,
    readonly metadata: grpc.Metadata,
  ) {
    super(message);
    this.details = message;
  }
}

/**
 * An error for `code` with `message` as status message. `details` (google.rpc.BadRequest,
 * ResourceInfo, ...) travel as a google.rpc.Status in the `grpc-status-details-bin` trailer,
 * where gateways and rich gRPC clients look for them.
 */
export function grpcError(code: grpc.status, message: string, details: readonly Any[] = []): GrpcStatusError {
  const metadata = new grpc.Metadata();
  if (details.length > 0) {
    const richStatus = create(StatusSchema, { code, message, details: [...details] });
    metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, richStatus)));
  }
  return new GrpcStatusError(code, message, metadata);
}

type Input<M extends DescMethod> = MessageShape<M['input']>;
type OutputInit<M extends DescMethod> = MessageInitShape<M['output']>;

/** `signal` aborts when the caller cancels or its deadline passes. */
export type UnaryImpl<M extends DescMethod> = (
  request: Input<M>,
  call: grpc.ServerUnaryCall<Input<M>, Message>,
  signal: AbortSignal,
) => Promise<OutputInit<M>>;

/** Each yielded value is sent as one response; the stream ends when the iterable does. */
export type ServerStreamingImpl<M extends DescMethod> = (
  request: Input<M>,
  call: grpc.ServerWritableStream<Input<M>, Message>,
  signal: AbortSignal,
) => AsyncIterable<OutputInit<M>>;

/** `requests` ends when the caller half-closes its side of the stream. */
export type ClientStreamingImpl<M extends DescMethod> = (
  requests: AsyncIterable<Input<M>>,
  call: grpc.ServerReadableStream<Input<M>, Message>,
  signal: AbortSignal,
) => Promise<OutputInit<M>>;

// Bidirectional streaming maps to never: no demo needs it, so an implementation cannot type-check.
export type MethodImpl<M extends DescMethod> = M['methodKind'] extends 'unary'
  ? UnaryImpl<M>
  : M['methodKind'] extends 'server_streaming'
    ? ServerStreamingImpl<M>
    : M['methodKind'] extends 'client_streaming'
      ? ClientStreamingImpl<M>
      : never;

/** One implementation per method of a generated service, keyed like `service.method`. */
export type ServiceImpl<S extends DescService> = { [K in keyof S['method']]: MethodImpl<S['method'][K]> };

/** What startGrpcServer serves: a service and the grpc-js handlers `implement` made for it. */
export interface ServiceBinding {
  readonly service: DescService;
  readonly impl: grpc.UntypedServiceImplementation;
}

/** grpc-js handlers for `service` that run the typed `impls`. */
export function implement<S extends DescService>(service: S, impls: ServiceImpl<S>): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const impl: unknown = (impls as Record<string, unknown>)[method.localName];
    if (typeof impl !== 'function') throw new Error(`${service.typeName}: no implementation for ${method.name}`);
    handlers[method.localName] = handlerFor(method, impl);
  }
  return handlers;
}

function handlerFor(method: DescMethod, impl: unknown): grpc.UntypedHandleCall {
  switch (method.methodKind) {
    case 'unary':
      return unaryHandler(method, impl as UnaryImpl<DescMethod>);
    case 'server_streaming':
      return serverStreamingHandler(method, impl as ServerStreamingImpl<DescMethod>);
    case 'client_streaming':
      return clientStreamingHandler(method, impl as ClientStreamingImpl<DescMethod>);
    case 'bidi_streaming':
      throw new Error(`${method.parent.typeName}.${method.name}: bidirectional streaming is not supported`);
  }
}

function unaryHandler(method: DescMethod, impl: UnaryImpl<DescMethod>): grpc.handleUnaryCall<Message, Message> {
  return (call, callback) => {
    const signal = cancellationSignal(call);
    respond(method, () => impl(call.request, call, signal), callback);
  };
}

function clientStreamingHandler(
  method: DescMethod,
  impl: ClientStreamingImpl<DescMethod>,
): grpc.handleClientStreamingCall<Message, Message> {
  return (call, callback) => {
    const signal = cancellationSignal(call);
    respond(method, () => impl(call, call, signal), callback);
  };
}

function respond(
  method: DescMethod,
  run: () => Promise<MessageInitShape<DescMethod['output']>>,
  callback: grpc.sendUnaryData<Message>,
): void {
  // The async wrapper turns a synchronous throw, and a bad init in create(), into a rejection.
  (async () => create(method.output, await run()))().then(
    (response) => callback(null, response),
    (err: unknown) => callback(toStatus(err)),
  );
}

function serverStreamingHandler(
  method: DescMethod,
  impl: ServerStreamingImpl<DescMethod>,
): grpc.handleServerStreamingCall<Message, Message> {
  return (call) => {
    const signal = cancellationSignal(call);
    void (async () => {
      try {
        // Leaving the loop (return or throw) calls the iterable's return(), so its finally blocks run.
        for await (const init of impl(call.request, call, signal)) {
          if (signal.aborted) return;
          // Backpressure: wait for the transport to drain rather than buffering without bound.
          if (!call.write(create(method.output, init))) await once(call, 'drain', { signal });
        }
        call.end();
      } catch (err) {
        // After a cancellation nobody is listening, and grpc-js has already ended the call.
        if (!signal.aborted) call.emit('error', toStatus(err));
      }
    })();
  };
}

function cancellationSignal(call: EventEmitter & { readonly cancelled: boolean }): AbortSignal {
  const controller = new AbortController();
  if (call.cancelled) controller.abort();
  else call.once('cancelled', () => controller.abort());
  return controller.signal;
}

function toStatus(err: unknown): Partial<grpc.StatusObject> {
  if (hasStatusCode(err)) {
    const details = typeof err.details === 'string' ? err.details : err instanceof Error ? err.message : '';
    return {
      code: err.code,
      details,
      ...(err.metadata instanceof grpc.Metadata ? { metadata: err.metadata } : {}),
    };
  }
  // Unexpected failures are bugs: their messages may carry internals, so callers get a generic one.
  return { code: grpc.status.INTERNAL, details: 'internal error' };
}

function hasStatusCode(
  err: unknown,
): err is { code: grpc.status; details?: unknown; metadata?: unknown } {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const { code } = err;
  // OK is not an error, and Node system errors carry string codes such as "ECONNRESET".
  return typeof code === 'number' && Number.isInteger(code) && code > grpc.status.OK && code <= grpc.status.UNAUTHENTICATED;
}

/** A running server. `close` lets calls in flight finish for up to 2 s, then cuts them off. */
export interface RunningGrpcServer {
  readonly address: string;
  readonly server: grpc.Server;
  close(): Promise<void>;
}

const shutdownGraceMs = 2_000;

/** Serves `bindings` on `address` without TLS; port 0 picks a free port, reported in `address`. */
export async function startGrpcServer(
  bindings: readonly ServiceBinding[],
  address = '127.0.0.1:0',
): Promise<RunningGrpcServer> {
  const server = new grpc.Server();
  for (const { service, impl } of bindings) server.addService(serviceDefinition(service), impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  const host = address.slice(0, address.lastIndexOf(':'));
  return { address: `${host}:${port}`, server, close: () => shutdownGrpcServer(server) };
}

/** Lets the calls in flight finish, for at most `graceMs`, then cuts the rest. */
export function shutdownGrpcServer(server: grpc.Server, graceMs = shutdownGraceMs): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(deadline);
      resolve();
    });
  });
}
