import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayConfig } from '../config/schema.js';

/**
 * CORS for browser frontends. Only configured origins get a grant; a preflight from any other
 * origin is answered without Access-Control-Allow-Origin, so the browser blocks the call.
 * A preflight is answered with the configured request headers, never an echo of the asked
 * ones, so a page cannot get arbitrary headers through.
 */
async function corsPlugin(app: FastifyInstance, { cors }: { cors: GatewayConfig['cors'] }): Promise<void> {
  if (cors.origins.length === 0) return;
  const allowed = new Set(cors.origins);
  await app.register(fastifyCors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: cors.credentials,
    maxAge: cors.maxAgeSeconds,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: cors.allowedHeaders,
    // RateLimit and RateLimit-Policy: a browser app can pace itself only if it may read them.
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    strictPreflight: false,
  });
}

export default fp(corsPlugin, { name: 'portico-cors' });
