import { PassThrough } from 'node:stream';
import type { Message } from '@bufbuild/protobuf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorEnvelope, GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
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
 * text/event-stream. NDJSON sends nothing until the first message arrives, so an error before
 * it is an ordinary error response. SSE sends its headers and heartbeats at once, so that
 * proxies do not cut a stream whose first message comes late; an error before the first
 * message is then an `error` event. After the headers, an error becomes a last frame holding
 * the envelope.
 */
export function streamResponse(
  request: FastifyRequest,
  reply: FastifyReply,
  route: GatewayRoute,
  upstreamCall: UpstreamCall,
  streams: ActiveStreams,
  /** SSE comments keep proxies and browsers from timing out an idle stream. */
  heartbeatMs: number,
  /** How long the client may read nothing while data waits for it before the stream is cut; 0 never cuts. */
  idleTimeoutMs: number,
): Promise<FastifyReply> {
  const framing = (request.headers.accept ?? '').includes('text/event-stream') ? sse : ndjson;

  return new Promise((resolve, reject) => {
    let out: PassThrough | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let untrack: (() => void) | undefined;
    let idle: NodeJS.Timeout | undefined;
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
        watchIdle(out);
      }
    };
    // A client that reads nothing would hold its socket and the upstream call forever.
    const watchIdle = (stream: PassThrough): void => {
      if (idleTimeoutMs === 0 || idle) return;
      idle = setTimeout(() => {
        request.log.info({ idleTimeoutMs }, 'stream cut: the client read nothing for server.streamIdleTimeoutMs');
        reply.raw.destroy();
        call.cancel();
      }, idleTimeoutMs);
      idle.unref();
      stream.once('drain', () => {
        clearTimeout(idle);
        idle = undefined;
      });
    };
    const finish = (): void => {
      flush();
      if (heartbeat) clearInterval(heartbeat);
      clearTimeout(idle);
      untrack?.();
      if (out && !out.writableEnded) out.end();
    };
    const writeError = (err: GatewayError): void => {
      flush();
      if (out && !out.writableEnded) out.write(framing.error(JSON.stringify(errorEnvelope(err, request.id, request.traceId))));
      finish();
    };
    const open = (): PassThrough => {
      const stream = new PassThrough();
      reply.header('content-type', framing.contentType);
      reply.header('cache-control', 'no-cache');
      if (framing === sse) {
        reply.header('x-accel-buffering', 'no');
        // The first heartbeat goes at once: Node sends the headers with the first bytes.
        stream.write(': heartbeat\n\n');
        heartbeat = setInterval(() => {
          if (!stream.write(': heartbeat\n\n')) watchIdle(stream);
        }, heartbeatMs);
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
          out ??= open();
          finish();
          return;
        }
        if (!out) {
          // NDJSON before its first message: an ordinary error response.
          reject(err);
          return;
        }
        // A client that went away cannot read a last frame.
        if (upstreamCall.ctx.signal.aborted) finish();
        else writeError(err);
      },
    });
    if (framing === sse) out = open();
  });
}
