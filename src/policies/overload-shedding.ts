import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { OverloadConfig } from '../config/schema.js';
import { refusal } from '../errors/refusals.js';

/**
 * The pressure is measured every second, so a client that waits 2 s meets at least one fresh
 * measurement.
 */
const retryAfterSeconds = 2;

/** One error for every shed request: shedding must cost less than serving, so no stack per request. */
const overloaded = refusal('OVERLOADED', 'the gateway is overloaded; retry later', retryAfterSeconds);

/** What @fastify/under-pressure last sampled. */
export interface PressureSample {
  eventLoopDelay: number;
  heapUsed: number;
  rssBytes: number;
}

/** The thresholds of one config generation; undefined when every one is off, so requests pay nothing. */
export function compileOverload(overload: OverloadConfig): OverloadConfig | undefined {
  return overload.maxEventLoopDelayMs > 0 || overload.maxHeapUsedBytes > 0 || overload.maxRssBytes > 0 ? overload : undefined;
}

/**
 * Refuses `request` with 503 OVERLOADED (Retry-After) when the last sample is past a threshold.
 * The route pipeline calls it first, before routing, auth or any upstream work, and only for
 * the API's routes: probes and scrapes keep answering under load (a shed /healthz would get a
 * busy pod restarted, a shed /readyz would pull every replica at once).
 */
export function shedIfOverloaded(request: FastifyRequest, thresholds: OverloadConfig, sample: PressureSample): void {
  const { maxEventLoopDelayMs, maxHeapUsedBytes, maxRssBytes } = thresholds;
  if (
    (maxEventLoopDelayMs > 0 && sample.eventLoopDelay > maxEventLoopDelayMs) ||
    (maxHeapUsedBytes > 0 && sample.heapUsed > maxHeapUsedBytes) ||
    (maxRssBytes > 0 && sample.rssBytes > maxRssBytes)
  ) {
    request.refusal = 'OVERLOADED';
    throw overloaded;
  }
}

/**
 * @fastify/under-pressure as the sampler only (event-loop delay, heap and RSS every second):
 * the thresholds are the config generation's, compared per request by shedIfOverloaded, so a
 * reload changes them. Given no thresholds, under-pressure adds no hook of its own.
 */
async function pressureSampler(app: FastifyInstance): Promise<void> {
  await app.register(underPressure, {});
}

export default fp(pressureSampler, { name: 'portico-pressure-sampler' });
