import type { Message } from '@bufbuild/protobuf';
import type { HashKeyReader } from './balancing/hash-key.js';
import type { CallContext, CompiledRpc, StreamListener, Upstream, UpstreamStream } from './upstream.js';

/** One call on its way to an upstream service: what every policy of the chain sees. */
export interface UpstreamCall {
  readonly service: string;
  readonly rpc: CompiledRpc;
  readonly request: Message;
  readonly ctx: CallContext;
  /** Whether the RPC may be called twice for one request (a retry may only then). */
  readonly idempotent: boolean;
}

export type UnaryInvoker = (call: UpstreamCall) => Promise<Message>;
export type StreamInvoker = (call: UpstreamCall, listener: StreamListener) => UpstreamStream;

/**
 * A policy around the upstream call, in the interceptor style (`next => call => ...`): it may
 * refuse the call, change it, watch its outcome or call `next` more than once. A policy that
 * leaves a call shape alone omits its wrapper. A stream policy must end a refused stream
 * through `listener.end`, never synchronously, and return a handle (`endedStream` will do).
 */
export interface UpstreamPolicy {
  readonly name: string;
  unary?(next: UnaryInvoker): UnaryInvoker;
  stream?(next: StreamInvoker): StreamInvoker;
}

/**
 * The client of one upstream service: the chain of policies around its channel, composed
 * once (not per call). The list reads outermost first; the grpc-js channel call is always
 * the last link. Breakers, retries, concurrency limits and tracing join the list here.
 */
export class UpstreamClient {
  readonly unary: UnaryInvoker;
  readonly serverStream: StreamInvoker;

  /**
   * `hashKey`: where the service's ring_hash balancing finds a request's key (hashOn); the call
   * context carries it to the channel's picker (call-context.ts).
   */
  constructor(
    readonly service: string,
    channel: Upstream,
    readonly policies: readonly UpstreamPolicy[],
    readonly hashKey?: HashKeyReader,
  ) {
    let unary: UnaryInvoker = (call) => channel.unary(call.rpc, call.request, call.ctx);
    let stream: StreamInvoker = (call, listener) => channel.serverStream(call.rpc, call.request, call.ctx, listener);
    for (const policy of [...policies].reverse()) {
      if (policy.unary) unary = policy.unary(unary);
      if (policy.stream) stream = policy.stream(stream);
    }
    this.unary = unary;
    this.serverStream = stream;
  }
}
