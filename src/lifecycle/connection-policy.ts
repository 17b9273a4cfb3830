import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { trackReply } from '../errors/client-errors.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { Readiness } from './readiness.js';

/** Why the request's Host header breaks RFC 9112 §3.2, if it does. */
function hostProblem(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  let hosts = 0;
  // rawHeaders alternates names and values; Node keeps only the first Host in `headers`.
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') hosts++;
  if (hosts > 1) return 'a request must have exactly one Host header, it has several';
  const http11 = request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor >= 1;
  if (hosts === 0 && http11) return 'an HTTP/1.1 request must have a Host header';
  return undefined;
}

/**
 * What the gateway enforces per connection before any route runs: one Host header, and the
 * shutdown rules. From SIGTERM on (draining), every response says `Connection: close` so
 * clients reconnect to another replica; once the listener closes, requests still arriving on
 * open connections get the envelope, 503 UNAVAILABLE.
 */
async function connectionPolicy(app: FastifyInstance, { readiness }: { readiness: Readiness }): Promise<void> {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  app.addHook('onRequest', (request, reply, done) => {
    trackReply(reply);
    const problem = hostProblem(request);
    if (problem) return done(GatewayError.http(400, problem));
    if (closing) return done(new GatewayError(GrpcStatus.UNAVAILABLE, 'the gateway is shutting down', [], { headers: { connection: 'close' } }));
    done();
  });

  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing || readiness.draining) reply.header('connection', 'close');
    done(null, payload);
  });
}

export default fp(connectionPolicy, { name: 'portico-connection-policy' });
