import { Transform } from 'node:stream';
import type { FastifyRequest, RequestPayload } from 'fastify';
import { GatewayError } from '../errors/gateway-error.js';

function tooLarge(limit: number): GatewayError {
  return GatewayError.http(413, `the request body is larger than ${limit} bytes (server.bodyLimit)`);
}

/**
 * server.bodyLimit of the config generation in force, so a reload changes it (Fastify's own
 * limit is fixed when the app is built). A declared Content-Length over the limit is refused
 * before a byte of the body is read; Node's parser holds a body to its Content-Length.
 */
export function refuseDeclaredOversize(request: FastifyRequest, limit: number): void {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
}

/**
 * A chunked body has no length to check up front: it is counted as it streams in and cut at
 * the limit, so an oversized body is never buffered whole.
 */
export function limitChunkedBody(request: FastifyRequest, payload: RequestPayload, limit: number): RequestPayload {
  if (request.headers['transfer-encoding'] === undefined) return payload;
  let received = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (received > limit) callback(tooLarge(limit));
      else callback(null, chunk);
    },
  });
  payload.on('error', (err) => counted.destroy(err));
  return payload.pipe(counted);
}
