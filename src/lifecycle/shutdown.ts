import closeWithGrace from 'close-with-grace';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Gateway } from '../app.js';
import type { GatewayConfig } from '../config/schema.js';

/**
 * Graceful shutdown on SIGTERM/SIGINT: readiness turns 503 at once, the listener keeps
 * serving for delayMs (so load balancers stop sending first), then stops accepting; requests
 * in flight finish, streams are ended when graceMs runs out, the channels close, exit 0.
 */
export function drainOnSignals(gateway: Gateway, shutdown: GatewayConfig['shutdown']): void {
  closeWithGrace(
    { delay: shutdown.delayMs + shutdown.graceMs + 5000, logger: gateway.app.log },
    async ({ signal, err }) => {
      if (err) gateway.app.log.error({ err }, 'shutting down after an unexpected error');
      else gateway.app.log.info({ signal }, 'shutting down');
      await drain(gateway, shutdown);
    },
  );
}

export async function drain(gateway: Gateway, { delayMs, graceMs }: GatewayConfig['shutdown']): Promise<void> {
  gateway.readiness.startDraining();
  if (delayMs > 0) await sleep(delayMs);
  const grace = setTimeout(() => {
    gateway.streams.endAll('the gateway is shutting down');
    gateway.app.server.closeAllConnections();
  }, graceMs);
  try {
    await gateway.app.close();
  } finally {
    clearTimeout(grace);
  }
}
