import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { ATTR_NETWORK_PEER_ADDRESS, ATTR_NETWORK_PEER_PORT, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import { GatewayError } from '../../errors/gateway-error.js';
import { GrpcStatus } from '../../errors/status-codes.js';
import type { StreamInvoker, UnaryInvoker, UpstreamCall, UpstreamPolicy } from '../../upstreams/upstream-client.js';
import type { StreamListener } from '../../upstreams/upstream.js';
import type { Tracing } from './tracing.js';

/*
 * The gRPC attributes of @opentelemetry/instrumentation-grpc (semantic conventions before
 * rpc.* became stable), so that existing gRPC dashboards and service graphs read these spans.
 * Written out rather than imported from the conventions' "incubating" entry, as it advises.
 */
const ATTR_RPC_SYSTEM = 'rpc.system';
const ATTR_RPC_SERVICE = 'rpc.service';
const ATTR_RPC_METHOD = 'rpc.method';
const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';

/**
 * One client span per upstream call attempt, a direct child of the request's server span, named
 * `package.Service/Method`. It is the last policy of the chain (upstreams/upstream-pool.ts), so
 * each retry makes its own span and a call a policy refuses makes none. The upstream receives
 * the span as its traceparent, sampled or not. The replica's address comes from the channel
 * call when it ends (CallContext.peer); a status other than OK marks the span ERROR. Only in
 * the chain with tracing on.
 */
export class ClientSpans implements UpstreamPolicy {
  readonly name = 'client-spans';

  constructor(private readonly tracing: Tracing) {}

  unary(next: UnaryInvoker): UnaryInvoker {
    return (call) => {
      const span = this.#start(call);
      return next(withPeer(call, span)).then(
        (response) => {
          endClientSpan(span, undefined);
          return response;
        },
        (err: unknown) => {
          endClientSpan(span, err);
          throw err;
        },
      );
    };
  }

  stream(next: StreamInvoker): StreamInvoker {
    return (call, listener) => {
      const span = this.#start(call);
      const ending: StreamListener = {
        message: (message) => listener.message(message),
        end: (err) => {
          endClientSpan(span, err);
          listener.end(err);
        },
      };
      return next(withPeer(call, span), ending);
    };
  }

  #start(call: UpstreamCall): Span {
    const span = this.tracing.tracer.startSpan(call.rpc.path.slice(1), { kind: SpanKind.CLIENT }, call.ctx.trace ?? ROOT_CONTEXT);
    if (span.isRecording()) {
      span.setAttributes({ [ATTR_RPC_SYSTEM]: 'grpc', [ATTR_RPC_SERVICE]: call.rpc.method.parent.typeName, [ATTR_RPC_METHOD]: call.rpc.name });
    }
    // Attempts run one after another and grpc-js copies the metadata when a call starts, so
    // each attempt can write its own traceparent into the one metadata object.
    this.tracing.inject(span, call.ctx.metadata);
    return span;
  }
}

/** The attempt's call, whose channel call reports the replica it reached to the span. */
function withPeer(call: UpstreamCall, span: Span): UpstreamCall {
  if (!span.isRecording()) return call;
  return { ...call, ctx: { ...call.ctx, peer: (address) => span.setAttributes(peerAttributes(address)) } };
}

/** "host:port" or "[v6]:port", as grpc-js names a connected peer. */
const peerAddress = /^(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})$/;

/**
 * The replica's address. A call that never reached one reports the channel's target
 * ("dns:…", "portico-static:///…") or "unknown": no address then.
 */
function peerAttributes(peer: string): Record<string, string | number> {
  const match = peerAddress.exec(peer);
  if (!match) return {};
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  return { [ATTR_SERVER_ADDRESS]: host, [ATTR_SERVER_PORT]: port, [ATTR_NETWORK_PEER_ADDRESS]: host, [ATTR_NETWORK_PEER_PORT]: port };
}

/** `err`: undefined when the call ended OK. The upstream's own message describes an error (traces are for operators). */
function endClientSpan(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const failure = err === undefined ? undefined : GatewayError.from(err);
  span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, failure?.code ?? GrpcStatus.OK);
  if (failure) span.setStatus({ code: SpanStatusCode.ERROR, message: failure.upstream?.message || failure.message });
  span.end();
}
