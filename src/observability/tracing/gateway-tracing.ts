import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { TracingConfig } from '../../config/schema.js';
import type { UpstreamPolicy } from '../../upstreams/upstream-client.js';
import { ClientSpans } from './client-spans.js';
import serverSpans from './server-spans.js';
import { Tracing } from './tracing.js';

/** Tracing's two seams in the gateway, and its shutdown. */
export interface GatewayTracing {
  /** Registers the server span hook; right after the client address's, before every policy, so that their refusals are traced too. */
  register(app: FastifyInstance): Promise<void>;
  /** The last policy of every upstream chain. */
  readonly clientSpans: UpstreamPolicy;
  /** Exports what is buffered (a bounded wait), then stops. */
  close(): Promise<void>;
}

/**
 * The entry point app.ts imports dynamically, and only with tracing.enabled: the OpenTelemetry
 * SDK and its exporters add about 20 MiB of RSS and a few hundred ms of start-up, which a
 * gateway that does not trace should not pay.
 */
export function startTracing(config: TracingConfig, log: FastifyBaseLogger): GatewayTracing {
  const tracing = new Tracing(config, log);
  return {
    register: async (app) => {
      await app.register(serverSpans, { tracing });
    },
    clientSpans: new ClientSpans(tracing),
    close: () => tracing.close(),
  };
}
