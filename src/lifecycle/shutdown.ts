import closeWithGrace from 'close-with-grace';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from '../app.js';
import type { GatewayConfig } from '../config/schema.js';

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness turns 503 at once, the listener keeps
 * serving for delayMs (so load balancers stop sending first), then stops accepting; requests
 * in flight finish, streams are ended when graceMs runs out, the channels close, exit 0.
 * Responses from SIGTERM on say `Connection: close`, and requests that still arrive on open
 * connections once the listener has closed get a 503 envelope (lifecycle/connection-policy.ts).
 */
export function drainOnSignals(gateway: Gateway): void {
  closeWithGrace(
    // SIGHUP reloads the config (config/watch.ts) instead of stopping the gateway. No delay of
    // close-with-grace's own: the deadline comes from the config in force when the signal comes.
    { delay: null, logger: gateway.app.log, skip: ['SIGHUP'] },
    async ({ signal, err }) => {
      if (err) gateway.app.log.error({ err }, 'shutting down after an unexpected error');
      else gateway.app.log.info({ signal }, 'shutting down');
      const shutdown = gateway.live.current.config.shutdown;
      const deadlineMs = shutdown.delayMs + shutdown.graceMs + 5000;
      setTimeout(() => {
        gateway.app.log.error(`shutdown did not finish within ${deadlineMs} ms; exiting`);
        process.exit(1);
      }, deadlineMs).unref();
      await drain(gateway, shutdown);
    },
  );
}

/** Time for the last stream frames to reach clients before connections are cut. */
const flushMs = 1000;

export async function drain(gateway: Gateway, { delayMs, graceMs }: GatewayConfig['shutdown']): Promise<void> {
  gateway.readiness.startDraining();
  if (delayMs > 0) await sleep(delayMs);
  // When the grace period runs out, streams get a last error frame and end; a moment later
  // any connection still open (a slow unary call) is cut so the process can exit.
  const endStreams = setTimeout(() => gateway.streams.endAll('the gateway is shutting down'), graceMs);
  const cutConnections = setTimeout(() => gateway.app.server.closeAllConnections(), graceMs + flushMs);
  try {
    await gateway.app.close();
  } finally {
    clearTimeout(endStreams);
    clearTimeout(cutConnections);
  }
}
