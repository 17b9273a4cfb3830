import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape, type Registry } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { GatewayError } from '../errors/gateway-error.js';
import { codeName, GrpcStatus } from '../errors/status-codes.js';
import { decodeStatusDetails, detailsRegistry } from './status-details.js';

/** What the gateway records about each upstream call (metrics live in observability/). */
export interface UpstreamObserver {
  callFinished(service: string, method: string, code: GrpcStatus, seconds: number): void;
}

/** The per-call inputs: the client's lifetime, an absolute deadline and the metadata. */
export interface CallContext {
  signal: AbortSignal;
  /** Epoch milliseconds, or Infinity for no deadline. */
  deadline: number;
  metadata: grpc.Metadata;
}

/** A method compiled once: its wire path and binary codec for grpc-js. */
export interface CompiledRpc<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  readonly path: string;
  readonly method: DescMethod;
  readonly name: string;
  readonly serialize: (message: MessageShape<I>) => Buffer;
  readonly deserialize: (bytes: Buffer) => MessageShape<O>;
}

export function compileRpc<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }): CompiledRpc<I, O> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    method,
    name: method.name,
    serialize: (message) => {
      const bytes = toBinary(method.input, message);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

export interface UpstreamOptions {
  name: string;
  address: string;
  registry: Registry;
  observer: UpstreamObserver;
}

/**
 * One upstream gRPC service: a grpc-js channel (HTTP/2, reconnects, keepalive, DNS
 * round-robin) and the two call shapes the gateway exposes. grpc-js calls take no
 * AbortSignal, so the client's signal is bridged to cancelling the call here.
 */
export class Upstream {
  readonly name: string;
  readonly #client: grpc.Client;
  readonly #observer: UpstreamObserver;
  readonly #detailsRegistry: Registry;

  constructor(options: UpstreamOptions) {
    this.name = options.name;
    this.#observer = options.observer;
    this.#detailsRegistry = detailsRegistry(options.registry);
    this.#client = new grpc.Client(options.address, grpc.credentials.createInsecure(), {
      // dns:/// targets resolve to every address; spread calls over them instead of pinning one.
      'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.dns_min_time_between_resolutions_ms': 5_000,
      'grpc.enable_channelz': 0,
    });
  }

  unary<I extends DescMessage, O extends DescMessage>(rpc: CompiledRpc<I, O>, request: MessageShape<I>, ctx: CallContext): Promise<MessageShape<O>> {
    if (ctx.signal.aborted) return Promise.reject(cancelledError());
    return new Promise((resolve, reject) => {
      new UnaryCall(this, this.#client.getChannel(), rpc, ctx, resolve, reject).start(request);
    });
  }

  /** @internal Called by UnaryCall once per call, with the final status. */
  finished(rpc: CompiledRpc, code: GrpcStatus, started: number): void {
    this.#observer.callFinished(this.name, rpc.name, code, (performance.now() - started) / 1000);
  }

  /**
   * Starts a server-streaming call. The caller reads the returned stream; the observer
   * is told when it ends, and the client's signal cancels it.
   */
  serverStream<I extends DescMessage, O extends DescMessage>(rpc: CompiledRpc<I, O>, request: MessageShape<I>, ctx: CallContext): grpc.ClientReadableStream<MessageShape<O>> {
    const started = performance.now();
    const call = withoutCallerStack(() =>
      this.#client.makeServerStreamRequest(rpc.path, rpc.serialize, rpc.deserialize, request, ctx.metadata, { deadline: ctx.deadline }),
    );
    const onAbort = (): void => call.cancel();
    if (ctx.signal.aborted) queueMicrotask(onAbort);
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    call.on('status', (status: grpc.StatusObject) => {
      ctx.signal.removeEventListener('abort', onAbort);
      this.finished(rpc, status.code, started);
    });
    return call;
  }

  /** A call's final status as the client's error; the upstream's own words stay in its cause, for the log. */
  toGatewayError(status: grpc.StatusObject): GatewayError {
    const details = decodeStatusDetails(status.metadata, this.#detailsRegistry);
    return GatewayError.fromUpstream(status.code, status.details, details, upstreamStatusError(status));
  }

  close(): void {
    this.#client.close();
  }
}

type UpstreamChannel = ReturnType<grpc.Client['getChannel']>;

/**
 * One unary call driven on the channel's call directly, without grpc-js's Client layer
 * (interceptor chain, a listener wrapper per layer, a caller-stack Error per call): on Node 24
 * that layer cost about 20% of a call's CPU (bench/README.md). What it did that a gateway
 * needs is kept: a codec failure ends the call INTERNAL, an OK status without a message is
 * UNIMPLEMENTED, and the client's hang-up cancels the call. This object is both the call's
 * listener and the abort signal's (`handleEvent`), so a call allocates no closure per callback.
 */
class UnaryCall<I extends DescMessage, O extends DescMessage> {
  readonly #started = performance.now();
  readonly #call: ReturnType<UpstreamChannel['createCall']>;
  #response: MessageShape<O> | undefined;
  /** Set when the gateway itself ended the call (codec failure): reported instead of the cancel. */
  #ownStatus: grpc.StatusObject | undefined;

  constructor(
    readonly upstream: Upstream,
    channel: UpstreamChannel,
    readonly rpc: CompiledRpc<I, O>,
    readonly ctx: CallContext,
    readonly resolve: (response: MessageShape<O>) => void,
    readonly reject: (err: GatewayError) => void,
  ) {
    this.#call = channel.createCall(rpc.path, ctx.deadline, null, null, 0);
  }

  start(request: MessageShape<I>): void {
    const call = this.#call;
    this.ctx.signal.addEventListener('abort', this, { once: true });
    call.start(this.ctx.metadata, this);
    let bytes: Buffer;
    try {
      bytes = this.rpc.serialize(request);
    } catch (err) {
      this.#fail(GrpcStatus.INTERNAL, `request message serialization failure: ${messageOf(err)}`);
      return;
    }
    call.sendMessageWithContext({}, bytes);
    call.halfClose();
    call.startRead();
  }

  onReceiveMetadata(): void {}

  onReceiveMessage(bytes: Buffer): void {
    if (this.#response !== undefined) {
      this.#fail(GrpcStatus.UNIMPLEMENTED, 'too many responses received for a unary call');
      return;
    }
    try {
      this.#response = this.rpc.deserialize(bytes);
    } catch (err) {
      this.#fail(GrpcStatus.INTERNAL, `response message parsing error: ${messageOf(err)}`);
      return;
    }
    // Read on, so that a second message is seen (and refused) rather than left unread.
    this.#call.startRead();
  }

  onReceiveStatus(received: grpc.StatusObject): void {
    this.ctx.signal.removeEventListener('abort', this);
    let status = this.#ownStatus ?? received;
    if (status.code === GrpcStatus.OK && this.#response === undefined) {
      status = { code: GrpcStatus.UNIMPLEMENTED, details: 'no response message received', metadata: status.metadata };
    }
    this.upstream.finished(this.rpc, status.code, this.#started);
    if (status.code === GrpcStatus.OK) this.resolve(this.#response!);
    else this.reject(this.upstream.toGatewayError(status));
  }

  /** The client hung up (the abort signal's listener). */
  handleEvent(): void {
    this.#call.cancelWithStatus(GrpcStatus.CANCELLED, 'the client closed the request');
  }

  #fail(code: GrpcStatus, details: string): void {
    this.#ownStatus ??= { code, details, metadata: new grpc.Metadata() };
    this.#call.cancelWithStatus(code, details);
  }
}

/** What the log shows for a failed call: the upstream's own code and message. */
function upstreamStatusError(status: grpc.StatusObject): Error {
  return Object.assign(new Error(`${status.code} ${codeName(status.code)}: ${status.details}`), { code: status.code, details: status.details });
}

/**
 * grpc-js's Client layer captures a stack trace at every call (`new Error()` in
 * makeServerStreamRequest) to append "for call at" to a failed call's error; here that stack is
 * always this file and is never shown to a client, and capturing it cost 3-4 µs per call
 * (measured), so streams start with stack capture off. Unary calls skip that layer altogether.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function cancelledError(): GatewayError {
  return new GatewayError(GrpcStatus.CANCELLED, 'the client closed the request');
}
