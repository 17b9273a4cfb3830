import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape, type Registry } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { Context } from '@opentelemetry/api';
import { GatewayError } from '../errors/gateway-error.js';
import { refusal, type RefusalReason } from '../errors/refusals.js';
import { codeName, GrpcStatus } from '../errors/status-codes.js';
import { isNoHealthyUpstream } from './health/health-balancer.js';
import type { ServiceHealth } from './health/service-health.js';
import { decodeStatusDetails } from './status-details.js';

/** What the gateway records about each upstream call (metrics live in observability/). */
export interface UpstreamObserver {
  callFinished(service: string, method: string, code: GrpcStatus, seconds: number): void;
  /** A call the channel's balancer refused itself (allUnhealthy: fail_closed): it reached no replica. */
  refused(service: string, reason: RefusalReason): void;
}

/** Where a call reports its final gRPC code: the request, for its access line. */
export interface CallOutcome {
  upstreamCode: string;
  /** Calls made to the upstream for the request, when a retry made more than one. */
  attempts?: number;
  /** Why a policy refused the call without calling the upstream (an ErrorInfo reason). */
  refusal?: string;
}

/** The per-call inputs: the client's lifetime, an absolute deadline and the metadata. */
export interface CallContext {
  signal: AbortSignal;
  /** Epoch milliseconds, or Infinity for no deadline. */
  deadline: number;
  metadata: grpc.Metadata;
  outcome: CallOutcome;
  /** The request's server span, parent of the call's client spans (only with tracing on: observability/tracing/). */
  trace?: Context | undefined;
  /** Told the address of the replica the call reached, as it ends (only with tracing on: the client span's). */
  peer?: (address: string) => void;
}

/** A method compiled once per route generation: its wire path, binary codec and error-detail types. */
export interface CompiledRpc<I extends DescMessage = DescMessage, O extends DescMessage = DescMessage> {
  readonly path: string;
  readonly method: DescMethod;
  readonly name: string;
  readonly serialize: (message: MessageShape<I>) => Buffer;
  readonly deserialize: (bytes: Buffer) => MessageShape<O>;
  /** Resolves google.rpc details and the service's own types in a failed call's status. */
  readonly statusDetails: Registry;
}

/** `statusDetails`: from detailsRegistry() over the generation's protos. */
export function compileRpc<I extends DescMessage, O extends DescMessage>(method: DescMethod & { input: I; output: O }, statusDetails: Registry): CompiledRpc<I, O> {
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    method,
    name: method.name,
    statusDetails,
    serialize: (message) => {
      const bytes = toBinary(method.input, message);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    deserialize: (bytes) => fromBinary(method.output, bytes),
  };
}

/** HTTP/2 keepalive pings on a connection that has calls open. */
export interface KeepaliveOptions {
  timeMs: number;
  timeoutMs: number;
}

export interface UpstreamOptions {
  name: string;
  /** The grpc-js target and service config, from the service's replica settings and health (balancing/channel-balancing.ts). */
  target: string;
  serviceConfig: string;
  observer: UpstreamObserver;
  keepalive: KeepaliveOptions;
  /** The health of the service's replicas, which the channel's balancer acts on. */
  health: ServiceHealth;
}

/**
 * One upstream gRPC service: a grpc-js channel (HTTP/2, reconnects, keepalive, balancing over
 * the replicas) and the two call shapes the gateway exposes. It is the last link of the
 * upstream client's policy chain (upstream-client.ts). grpc-js calls take no AbortSignal,
 * so the client's signal is bridged to cancelling the call here.
 */
export class Upstream {
  readonly name: string;
  readonly #channel: grpc.Channel;
  readonly #observer: UpstreamObserver;

  constructor(options: UpstreamOptions) {
    this.name = options.name;
    this.#observer = options.observer;
    // A bare channel: calls are driven on it directly, without grpc-js's Client layer (ChannelCall).
    // One retry layer decides on failed calls: the gateway's (policies/retry.ts), with its budget.
    // grpc-js's retries stay enabled only for what no retry policy covers: with no retryPolicy in
    // the service config, it retries just a call that never reached the server application (not
    // sent, or refused by a server that is going away), which is what a rolling restart causes.
    this.#channel = new grpc.Channel(options.target, grpc.credentials.createInsecure(), {
      'grpc.service_config': options.serviceConfig,
      'grpc.keepalive_time_ms': options.keepalive.timeMs,
      'grpc.keepalive_timeout_ms': options.keepalive.timeoutMs,
      'grpc.dns_min_time_between_resolutions_ms': 5_000,
      'grpc.enable_channelz': 0,
    });
  }

  unary<I extends DescMessage, O extends DescMessage>(rpc: CompiledRpc<I, O>, request: MessageShape<I>, ctx: CallContext): Promise<MessageShape<O>> {
    if (ctx.signal.aborted) return Promise.reject(cancelledError(ctx));
    return new Promise((resolve, reject) => {
      new UnaryCall(this, this.#channel, rpc, ctx, resolve, reject).start(request);
    });
  }

  /**
   * Starts a server-streaming call: `listener` gets each message, then one end (with the error
   * of a failed call), never synchronously. The returned handle pauses reading for
   * backpressure and cancels the call; the client's signal cancels it too.
   */
  serverStream<I extends DescMessage, O extends DescMessage>(rpc: CompiledRpc<I, O>, request: MessageShape<I>, ctx: CallContext, listener: StreamListener<O>): UpstreamStream {
    if (ctx.signal.aborted) {
      const err = cancelledError(ctx);
      queueMicrotask(() => listener.end(err));
      return endedStream;
    }
    const call = new StreamCall(this, this.#channel, rpc, ctx, listener);
    call.start(request);
    return call;
  }

  /** @internal Called by a call once, with its final status. */
  finished(rpc: CompiledRpc, status: grpc.StatusObject, started: number): void {
    // A balancer refusal is counted with the policies' refusals, not as an upstream call.
    if (isNoHealthyUpstream(status)) this.#observer.refused(this.name, 'NO_HEALTHY_UPSTREAM');
    else this.#observer.callFinished(this.name, rpc.name, status.code, (performance.now() - started) / 1000);
  }

  /** A call's final status as the client's error; the upstream's own words stay in its cause, for the log. */
  toGatewayError(status: grpc.StatusObject, rpc: CompiledRpc): GatewayError {
    // The balancer refused the call itself (allUnhealthy: fail_closed): it never reached a replica.
    if (isNoHealthyUpstream(status)) return refusal('NO_HEALTHY_UPSTREAM', `no healthy replica of the ${this.name} service`);
    const details = decodeStatusDetails(status.metadata, rpc.statusDetails);
    return GatewayError.fromUpstream(status.code, status.details, details, upstreamStatusError(status));
  }

  /** Connects now rather than at the first call: active health checks need the replicas' connections. */
  connect(): void {
    this.#channel.getConnectivityState(true);
  }

  close(): void {
    this.#channel.close();
  }
}

/** What a server stream delivers: each message in order, then one end. */
export interface StreamListener<O extends DescMessage = DescMessage> {
  message(message: MessageShape<O>): void;
  /** The call is over: undefined when it ended OK, else the client's error. */
  end(err: GatewayError | undefined): void;
}

/** The caller's handle on a server stream. */
export interface UpstreamStream {
  /** Asks for no more messages until resume(); grpc-js then stops reading, and HTTP/2 flow control holds the upstream. */
  pause(): void;
  resume(): void;
  /** Ends the call CANCELLED; the listener's end() follows. */
  cancel(): void;
}

/** The handle of a stream that never started (the client had already gone, or a policy refused it). */
export const endedStream: UpstreamStream = { pause() {}, resume() {}, cancel() {} };

/**
 * One call driven on the channel's call directly, without grpc-js's Client layer (interceptor
 * chain, a listener wrapper per layer, a caller-stack Error per call, an object-mode Readable
 * per stream): on Node 24 that layer cost about 20% of a unary call's CPU (bench/README.md).
 * What it did that a gateway needs is kept: a codec failure ends the call INTERNAL, and the
 * client's hang-up cancels it. This object is both the call's listener and the abort signal's
 * (`handleEvent`), so a call allocates no closure per callback. Subclasses say what a message
 * and the final status mean for their call shape.
 */
abstract class ChannelCall<I extends DescMessage, O extends DescMessage> {
  readonly #started = performance.now();
  protected readonly call: ReturnType<grpc.Channel['createCall']>;
  /** Set when the gateway itself ended the call (codec failure): reported instead of the cancel. */
  #ownStatus: grpc.StatusObject | undefined;

  constructor(
    readonly upstream: Upstream,
    channel: grpc.Channel,
    readonly rpc: CompiledRpc<I, O>,
    readonly ctx: CallContext,
  ) {
    this.call = channel.createCall(rpc.path, ctx.deadline, null, null, 0);
  }

  start(request: MessageShape<I>): void {
    const call = this.call;
    this.ctx.signal.addEventListener('abort', this, { once: true });
    call.start(this.ctx.metadata, this);
    let bytes: Buffer;
    try {
      bytes = this.rpc.serialize(request);
    } catch (err) {
      this.fail(GrpcStatus.INTERNAL, `request message serialization failure: ${messageOf(err)}`);
      return;
    }
    call.sendMessageWithContext({}, bytes);
    call.halfClose();
    call.startRead();
  }

  onReceiveMetadata(): void {}

  onReceiveMessage(bytes: Buffer): void {
    let message: MessageShape<O>;
    try {
      message = this.rpc.deserialize(bytes);
    } catch (err) {
      this.fail(GrpcStatus.INTERNAL, `response message parsing error: ${messageOf(err)}`);
      return;
    }
    this.received(message);
  }

  onReceiveStatus(received: grpc.StatusObject): void {
    this.ctx.signal.removeEventListener('abort', this);
    const status = this.checkedStatus(this.#ownStatus ?? received);
    if (isNoHealthyUpstream(status)) this.ctx.outcome.refusal = 'NO_HEALTHY_UPSTREAM';
    this.ctx.outcome.upstreamCode = codeName(status.code);
    this.ctx.peer?.(this.call.getPeer());
    this.upstream.finished(this.rpc, status, this.#started);
    this.settle(status);
  }

  /** The client hung up (the abort signal's listener). */
  handleEvent(): void {
    this.call.cancelWithStatus(GrpcStatus.CANCELLED, 'the client closed the request');
  }

  /** Ends the call with the gateway's own status. */
  protected fail(code: GrpcStatus, details: string): void {
    this.#ownStatus ??= { code, details, metadata: new grpc.Metadata() };
    this.call.cancelWithStatus(code, details);
  }

  /** A decoded response message. */
  protected abstract received(message: MessageShape<O>): void;

  /** The final status, or what the call shape makes of it. */
  protected checkedStatus(status: grpc.StatusObject): grpc.StatusObject {
    return status;
  }

  /** Hands the final status to the caller. */
  protected abstract settle(status: grpc.StatusObject): void;
}

/** A unary call: exactly one message, then OK. */
class UnaryCall<I extends DescMessage, O extends DescMessage> extends ChannelCall<I, O> {
  #response: MessageShape<O> | undefined;

  constructor(
    upstream: Upstream,
    channel: grpc.Channel,
    rpc: CompiledRpc<I, O>,
    ctx: CallContext,
    readonly resolve: (response: MessageShape<O>) => void,
    readonly reject: (err: GatewayError) => void,
  ) {
    super(upstream, channel, rpc, ctx);
  }

  protected received(message: MessageShape<O>): void {
    if (this.#response !== undefined) {
      this.fail(GrpcStatus.UNIMPLEMENTED, 'too many responses received for a unary call');
      return;
    }
    this.#response = message;
    // Read on, so that a second message is seen (and refused) rather than left unread.
    this.call.startRead();
  }

  protected override checkedStatus(status: grpc.StatusObject): grpc.StatusObject {
    if (status.code === GrpcStatus.OK && this.#response === undefined) {
      return { code: GrpcStatus.UNIMPLEMENTED, details: 'no response message received', metadata: status.metadata };
    }
    return status;
  }

  protected settle(status: grpc.StatusObject): void {
    if (status.code === GrpcStatus.OK) this.resolve(this.#response!);
    else this.reject(this.upstream.toGatewayError(status, this.rpc));
  }
}

/**
 * A server stream. grpc-js delivers one message per startRead(), so backpressure is asking
 * for the next one only while the caller is not paused.
 */
class StreamCall<I extends DescMessage, O extends DescMessage> extends ChannelCall<I, O> implements UpstreamStream {
  #paused = false;
  /** A message was delivered while paused: resume() asks for the next. */
  #readOwed = false;

  constructor(
    upstream: Upstream,
    channel: grpc.Channel,
    rpc: CompiledRpc<I, O>,
    ctx: CallContext,
    readonly listener: StreamListener<O>,
  ) {
    super(upstream, channel, rpc, ctx);
  }

  protected received(message: MessageShape<O>): void {
    try {
      this.listener.message(message);
    } catch (err) {
      // A message the caller cannot relay ends the call rather than the process.
      this.fail(GrpcStatus.INTERNAL, `response message could not be relayed: ${messageOf(err)}`);
      return;
    }
    if (this.#paused) this.#readOwed = true;
    else this.call.startRead();
  }

  protected settle(status: grpc.StatusObject): void {
    this.listener.end(status.code === GrpcStatus.OK ? undefined : this.upstream.toGatewayError(status, this.rpc));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    if (!this.#readOwed) return;
    this.#readOwed = false;
    this.call.startRead();
  }

  cancel(): void {
    this.call.cancelWithStatus(GrpcStatus.CANCELLED, 'the gateway cancelled the stream');
  }
}

/** What the log shows for a failed call: the upstream's own code and message. */
function upstreamStatusError(status: grpc.StatusObject): Error {
  return Object.assign(new Error(`${status.code} ${codeName(status.code)}: ${status.details}`), { code: status.code, details: status.details });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The client had gone before the call started. */
function cancelledError(ctx: CallContext): GatewayError {
  ctx.outcome.upstreamCode = 'CANCELLED';
  return new GatewayError(GrpcStatus.CANCELLED, 'the client closed the request');
}
