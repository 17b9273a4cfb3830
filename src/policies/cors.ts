import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayConfig } from '../config/schema.js';

/** The @fastify/cors options of one config generation. */
export type CorsPolicy = FastifyCorsOptions;

/**
 * CORS for browser frontends. Only configured origins get a grant; a preflight from any other
 * origin is answered without Access-Control-Allow-Origin, so the browser blocks the call.
 * A preflight is answered with the configured request headers, never an echo of the asked
 * ones, so a page cannot get arbitrary headers through. No origins: CORS is off.
 */
export function compileCors(cors: GatewayConfig['cors']): CorsPolicy {
  if (cors.origins.length === 0) return { origin: false };
  const allowed = new Set(cors.origins);
  return {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: cors.credentials,
    maxAge: cors.maxAgeSeconds,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: cors.allowedHeaders,
    // RateLimit and RateLimit-Policy: a browser app can pace itself only if it may read them.
    exposedHeaders: ['x-request-id', 'retry-after', 'ratelimit', 'ratelimit-policy'],
    strictPreflight: false,
  };
}

/**
 * Registers @fastify/cors with a delegator, so each request gets the policy of the config in
 * force and a reload changes origins, headers and credentials without a restart. With CORS off,
 * an OPTIONS request falls through to the not-found handler, which answers as the route table
 * says (405 with Allow on a known path).
 */
async function corsPlugin(app: FastifyInstance, { policy }: { policy: () => CorsPolicy }): Promise<void> {
  await app.register(fastifyCors, { delegator: (_request, callback) => callback(null, policy()) });
}

export default fp(corsPlugin, { name: 'portico-cors' });
