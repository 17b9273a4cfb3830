import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { OverloadConfig } from '../config/schema.js';
import { refusal } from '../errors/refusals.js';

/** Probes and scrapes keep answering under load: a shed /healthz would get a busy pod restarted, a shed /readyz would pull every replica at once. */
const exemptRoutes: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The pressure is measured every second, so a client that waits 2 s meets at least one fresh
 * measurement.
 */
const retryAfterSeconds = 2;

/** One error for every shed request: shedding must cost less than serving, so no stack per request. */
const overloaded = refusal('OVERLOADED', 'the gateway is overloaded; retry later', retryAfterSeconds);

/** Whether any threshold is set; with none, nothing is registered and requests pay nothing. */
export function sheddingEnabled(overload: OverloadConfig): boolean {
  return overload.maxEventLoopDelayMs > 0 || overload.maxHeapUsedBytes > 0 || overload.maxRssBytes > 0;
}

/**
 * Load shedding of the whole process with @fastify/under-pressure (it samples the event-loop
 * delay, heap and RSS): past a threshold a request is refused before auth or any upstream
 * work, through the gateway's error path, so it is the envelope (503 OVERLOADED with
 * Retry-After) with X-Request-ID and an access line. Read at start-up only.
 */
async function overloadShedding(app: FastifyInstance, { overload }: { overload: OverloadConfig }): Promise<void> {
  if (!sheddingEnabled(overload)) return;
  await app.register(underPressure, {
    maxEventLoopDelay: overload.maxEventLoopDelayMs,
    maxHeapUsedBytes: overload.maxHeapUsedBytes,
    maxRssBytes: overload.maxRssBytes,
    // A rejected promise makes under-pressure hand the error to Fastify's error handler (sendError).
    pressureHandler: (request: FastifyRequest) => {
      if (exemptRoutes.has(request.routeOptions.url ?? '')) return;
      request.refusal = 'OVERLOADED';
      return Promise.reject(overloaded);
    },
  });
}

export default fp(overloadShedding, { name: 'portico-overload-shedding' });
