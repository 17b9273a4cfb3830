import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { unmatchedLabel } from '../observability/http-observability.js';
import type { HttpMetrics } from '../observability/metrics.js';
import { canonicalAddress } from '../policies/client-address.js';
import { sendError } from './error-handler.js';
import { errorEnvelope, GatewayError } from './gateway-error.js';
import { GrpcStatus } from './status-codes.js';

/** The reply Fastify is building on a response, so a refusal can answer through it. */
const replyOfResponse = Symbol('portico.reply');
/** The last request a connection carried, so a refusal can tell whether it was answered already. */
const lastRequestOfSocket = Symbol('portico.lastRequest');

type TrackedResponse = http.ServerResponse & { [replyOfResponse]?: FastifyReply };
type TrackedSocket = Socket & { _httpMessage?: TrackedResponse | null; [lastRequestOfSocket]?: http.IncomingMessage };

/** Called for every request (connection-policy.ts): a timeout while its body arrives answers through Fastify. */
export function trackReply(reply: FastifyReply): void {
  (reply.raw as TrackedResponse)[replyOfResponse] = reply;
  const socket = reply.request.raw.socket as TrackedSocket | null;
  if (socket) socket[lastRequestOfSocket] = reply.request.raw;
}

function refusalOf(err: NodeJS.ErrnoException): GatewayError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError(GrpcStatus.DEADLINE_EXCEEDED, 'the request was not received in time', [], { httpStatus: 408 });
    case 'HPE_HEADER_OVERFLOW':
      return GatewayError.http(431, 'request headers are too large (16 KiB at most)');
    default:
      return GatewayError.http(400, 'malformed HTTP request');
  }
}

const methodAtStart = /^([A-Z]+) /;

/** The method of a refused request when the parser got that far (the bytes it failed on start with it). */
function methodOf(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): string {
  const method = err.rawPacket ? methodAtStart.exec(err.rawPacket.subarray(0, 16).toString('latin1'))?.[1] : undefined;
  return method && http.METHODS.includes(method) ? method : 'UNKNOWN';
}

/**
 * The handler of requests Node refuses before Fastify sees them (headers over 16 KiB, bad
 * framing, slow headers or bodies): the envelope with an X-Request-ID, then the connection is
 * closed, since the request's end can no longer be told. Each gets an access line and the
 * request metric under the route "unmatched", as any request does.
 */
export function createClientErrorHandler(metrics: HttpMetrics): (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket) => void {
  return function clientErrorHandler(this: FastifyInstance, err, socket) {
    const tracked = socket as TrackedSocket;
    const response = tracked._httpMessage;
    // A reset connection, a response already under way, a connection that timed out without
    // sending a byte (a preconnect, made no request), or one whose request was answered (an
    // early 404 or 413) while its body still trickles in: there is nothing to answer.
    const silent =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket.bytesRead === 0 || (!response && tracked[lastRequestOfSocket]?.complete === false));
    if (!socket.writable || response?.headersSent || silent) {
      socket.destroy();
      return;
    }
    const refusal = refusalOf(err);
    const reply = response?.[replyOfResponse];
    if (reply && !reply.sent) {
      if (!response!.req.readableFlowing) {
        // The handler runs without reading the body (a GET that sends one): its answer would
        // follow ours, so the connection is cut; the call is cancelled and logged as a hang-up.
        socket.destroy();
        return;
      }
      // Fastify is reading this request's body: its reply carries the request id, and its
      // access line and metric the route.
      reply.header('connection', 'close');
      sendError(reply.request, reply, refusal);
      return;
    }
    const requestId = randomUUID();
    const body = JSON.stringify(errorEnvelope(refusal, requestId));
    socket.end(
      `HTTP/1.1 ${refusal.httpStatus} ${http.STATUS_CODES[refusal.httpStatus]}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
    const method = methodOf(err);
    // No request object exists, so there is no duration to measure: recorded as 0.
    metrics.requestFinished(unmatchedLabel, method, refusal.httpStatus, 0);
    // No headers were read: the client is the peer, even a trusted proxy.
    const client = canonicalAddress(socket.remoteAddress);
    this.log.info({ requestId, method, route: unmatchedLabel, client, status: refusal.httpStatus, refusal: err.code }, 'request completed');
  };
}
