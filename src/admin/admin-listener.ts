import fs from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Gateway } from '../app.js';
import { logLevels } from '../config/schema.js';
import type { ConfigReloader } from '../config/watch.js';
import { installErrorHandling } from '../errors/error-handler.js';
import { GatewayError } from '../errors/gateway-error.js';
import { requestIdOf } from '../observability/request-id.js';
import { redactSecrets } from './redaction.js';
import { readRouteStats } from './route-stats.js';

/** The status page: one HTML file with its script and styles inline, read once at start. */
const statusPage = fs.readFileSync(new URL('./status-page.html', import.meta.url), 'utf8');

/**
 * The admin listener: a Fastify instance of its own on admin.host:admin.port, never the
 * public port, for operators. It has no authentication, hence loopback by default. It closes
 * with the gateway. `reloader` is undefined when the gateway runs without a config file (the
 * demo): there is nothing to reload then.
 */
export function buildAdminApp(gateway: Gateway, reloader: ConfigReloader | undefined): FastifyInstance {
  const admin = Fastify({
    loggerInstance: gateway.app.log as FastifyBaseLogger,
    genReqId: requestIdOf,
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
  });
  installErrorHandling(admin, () => undefined);

  admin.get('/admin', async (_request, reply) => reply.redirect('/admin/'));
  admin.get('/admin/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(statusPage));

  admin.get('/admin/config', async () => {
    const { version, hash, loadedAt, config } = gateway.live.current;
    const rejected = reloader?.lastRejected;
    return {
      version,
      hash,
      loadedAt: loadedAt.toISOString(),
      config: redactSecrets(config),
      lastRejected: rejected ? { at: rejected.at.toISOString(), reason: rejected.reason } : null,
    };
  });

  // The reload SIGHUP and the file watcher do: the file is read again even when unchanged.
  admin.post('/admin/reload', async () => {
    if (!reloader) throw GatewayError.http(400, 'nothing to reload: the gateway was started without a config file');
    const outcome = reloader.reload('POST /admin/reload');
    if ('rejected' in outcome) {
      throw GatewayError.http(400, `config reload rejected, version ${gateway.live.current.version} keeps serving: ${outcome.rejected.reason}`, [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONFIG_REJECTED', domain: 'portico' },
      ]);
    }
    return { version: outcome.applied.version, hash: outcome.applied.hash };
  });

  // Until the next reload or restart, which set the file's level (or LOG_LEVEL's) again.
  admin.put('/admin/log-level', async (request) => {
    const level = (request.body as { level?: unknown } | undefined)?.level;
    if (typeof level !== 'string' || !(logLevels as readonly string[]).includes(level)) {
      throw GatewayError.http(400, `level must be one of ${logLevels.join(', ')}`);
    }
    gateway.app.log.level = level;
    return { level };
  });

  admin.get('/admin/upstreams', async () => ({ services: gateway.live.upstreamStatus() }));

  admin.get('/admin/routes', async () => ({ routes: await readRouteStats(gateway.metrics.registry) }));

  gateway.app.addHook('onClose', async () => {
    await admin.close();
  });
  return admin;
}
