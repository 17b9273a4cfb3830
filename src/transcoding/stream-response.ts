import { PassThrough } from 'node:stream';
import type { Message } from '@bufbuild/protobuf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorEnvelope, GatewayError } from '../errors/gateway-error.js';
import { codeName, GrpcStatus } from '../errors/status-codes.js';
import type { UpstreamCall } from '../upstreams/upstream-client.js';
import type { UpstreamStream } from '../upstreams/upstream.js';
import type { GatewayRoute } from './route-set.js';

/** Open streams, so that shutdown can end them when its grace period runs out. */
export class ActiveStreams {
  readonly #enders = new Set<(err: GatewayError) => void>();

  add(end: (err: GatewayError) => void): () => void {
    this.#enders.add(end);
    return () => this.#enders.delete(end);
  }

  get size(): number {
    return this.#enders.size;
  }

  endAll(reason: string): void {
    const err = new GatewayError(GrpcStatus.UNAVAILABLE, reason);
    for (const end of [...this.#enders]) end(err);
  }
}

interface Framing {
  contentType: string;
  message(json: string): string;
  error(json: string): string;
}

const ndjson: Framing = {
  contentType: 'application/x-ndjson; charset=utf-8',
  message: (json) => `${json}\n`,
  error: (json) => `${json}\n`,
};

const sse: Framing = {
  contentType: 'text/event-stream; charset=utf-8',
  message: (json) => `data: ${json}\n\n`,
  error: (json) => `event: error\ndata: ${json}\n\n`,
};

/**
 * Relays a server stream as NDJSON, or as Server-Sent Events when the client asks for
 * text/event-stream. Nothing is sent until the first message arrives, so an error before it
 * is an ordinary error response; an error after it becomes a last frame holding the envelope.
 */
export function streamResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  route: GatewayRoute,
  upstreamCall: UpstreamCall,
  streams: ActiveStreams,
  /** SSE comments keep proxies and browsers from timing out an idle stream. */
  heartbeatMs: number,
): Promise<FastifyReply> {
  const framing = (request.headers.accept ?? '').includes('text/event-stream') ? sse : ndjson;

  return new Promise((resolve, reject) => {
    let out: PassThrough | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let untrack: (() => void) | undefined;
    // Messages that arrive in the same turn of the event loop (grpc-js often delivers several
    // from one HTTP/2 read) leave in one write: a syscall per message dominated the cost.
    const pending: string[] = [];
    let flushScheduled = false;

    const flush = (): void => {
      flushScheduled = false;
      if (!out || out.writableEnded || pending.length === 0) return;
      const chunk = pending.length === 1 ? pending[0]! : pending.join('');
      pending.length = 0;
      if (!out.write(chunk)) {
        // Backpressure: stop reading from the upstream until the client catches up.
        call.pause();
        out.once('drain', () => call.resume());
      }
    };
    const finish = (): void => {
      flush();
      if (heartbeat) clearInterval(heartbeat);
      untrack?.();
      if (out && !out.writableEnded) out.end();
    };
    const writeError = (err: GatewayError): void => {
      request.upstreamCode = err.status;
      flush();
      if (out && !out.writableEnded) out.write(framing.error(JSON.stringify(errorEnvelope(err, request.id))));
      finish();
    };
    const open = (): PassThrough => {
      const stream = new PassThrough();
      reply.header('content-type', framing.contentType);
      reply.header('cache-control', 'no-cache');
      if (framing === sse) {
        reply.header('x-accel-buffering', 'no');
        heartbeat = setInterval(() => stream.write(': heartbeat\n\n'), heartbeatMs);
        heartbeat.unref();
      }
      untrack = streams.add((err) => {
        writeError(err);
        call.cancel();
      });
      reply.send(stream);
      resolve(reply);
      return stream;
    };

    // The listener is never called synchronously, so `call` is set before any of it runs.
    const call: UpstreamStream = route.client.serverStream(upstreamCall, {
      message: (msg: Message) => {
        out ??= open();
        if (out.writableEnded) return;
        pending.push(framing.message(route.render(msg)));
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flush);
        }
      },
      end: (err) => {
        if (!err) {
          request.upstreamCode = codeName(GrpcStatus.OK);
          out ??= open();
          finish();
          return;
        }
        if (!out) {
          request.upstreamCode = err.status;
          reject(err);
          return;
        }
        // A client that went away cannot read a last frame.
        if (upstreamCall.ctx.signal.aborted) finish();
        else writeError(err);
      },
    });
  });
}
