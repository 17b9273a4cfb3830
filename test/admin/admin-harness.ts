import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create, type DescMessage, type Message } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { buildAdminApp } from '../../src/admin/admin-listener.js';
import { buildApp, type Gateway } from '../../src/app.js';
import { loadConfigFile } from '../../src/config/load.js';
import { watchConfig } from '../../src/config/watch.js';
import { startGrpcServer } from '../../src/demo/grpc-server.js';
import { Health, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema } from '../../src/gen/grpc/health/v1/health_pb.js';
import { jsonLogCapture, repoRoot } from '../support/gateway.js';
import { probeIncludeDir, probeMethod, probeProtoFile, ProbeService } from '../support/probe-backend.js';

/*
 * What the admin tests run: real grpc-js replicas of probe.v1.ProbeService that also answer
 * grpc.health.v1.Health/Check as the test sets them, and a gateway started from a YAML file
 * the way server.ts starts it (the file watcher's reloader, the admin listener on a port of
 * its own), both listening on loopback.
 */

export interface HealthReplica {
  readonly address: string;
  /** What Health/Check answers: SERVING or NOT_SERVING. */
  serving: boolean;
  close(): Promise<void>;
}

/** Echo answers at once, Wait after `delayMs`, Fail with the gRPC `code` asked for. */
export async function startHealthReplica(): Promise<HealthReplica> {
  const echo = probeMethod(ProbeService, 'Echo');
  const wait = probeMethod(ProbeService, 'Wait');
  const fail = probeMethod(ProbeService, 'Fail');
  const field = (call: grpc.ServerUnaryCall<Message, Message>, name: string): unknown => (call.request as unknown as Record<string, unknown>)[name];
  const reply = (output: DescMessage, fields: Record<string, unknown>): Message => create(output, fields as never);
  const replica = { serving: true } as HealthReplica & { address: string; close(): Promise<void> };
  const server = await startGrpcServer([
    {
      service: ProbeService,
      impl: {
        [echo.localName]: ((call, callback) => callback(null, reply(echo.output, { id: field(call, 'id') }))) satisfies grpc.handleUnaryCall<Message, Message>,
        [wait.localName]: ((call, callback) => {
          setTimeout(() => callback(null, reply(wait.output, { sleptMs: field(call, 'delayMs') })), field(call, 'delayMs') as number);
        }) satisfies grpc.handleUnaryCall<Message, Message>,
        [fail.localName]: ((call, callback) => callback({ code: field(call, 'code') as number, details: 'failed on purpose' })) satisfies grpc.handleUnaryCall<Message, Message>,
      },
    },
    {
      service: Health,
      impl: {
        check: ((_call, callback) => {
          const status = replica.serving ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.NOT_SERVING;
          callback(null, create(HealthCheckResponseSchema, { status }));
        }) satisfies grpc.handleUnaryCall<Message, Message>,
      },
    },
  ]);
  replica.address = server.address;
  replica.close = () => server.close();
  return replica;
}

/** A config file's text: the probe service over `replicas` with fast health checks, and `extra` YAML appended. */
export function probeConfigYaml(replicas: readonly HealthReplica[], extra = ''): string {
  const endpoints = replicas.map((replica) => `{ address: "${replica.address}" }`).join(', ');
  return `server: { port: 0 }
protos: { includeDirs: [${path.join(repoRoot, probeIncludeDir)}] }
logging: { level: info }
admin: { port: 0 }
services:
  - name: probe
    protoFiles: [${probeProtoFile}]
    service: probe.v1.ProbeService
    endpoints: [${endpoints}]
    healthCheck: { intervalMs: 200, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1 }
    concurrency: { max: 10 }
${extra}`;
}

export interface AdminGateway {
  /** The public listener, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** The admin listener, e.g. http://127.0.0.1:40124 */
  readonly adminUrl: string;
  readonly gateway: Gateway;
  readonly configFile: string;
  /** Every log line the gateway wrote, parsed. */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** Writes `yaml` to a fresh file and starts the gateway from it with its admin listener. */
export async function startAdminGateway(yaml: string): Promise<AdminGateway> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-admin-'));
  const configFile = path.join(dir, 'config.yaml');
  fs.writeFileSync(configFile, yaml);
  const config = loadConfigFile(configFile, {});
  const { logs, stream } = jsonLogCapture();
  const gateway = await buildApp(config, { logger: { level: config.logging.level, stream } });
  // Polling slower than any test runs: reloads here come from POST /admin/reload only.
  const reloader = watchConfig(configFile, gateway, 600_000);
  const admin = buildAdminApp(gateway, reloader);
  const adminUrl = await admin.listen({ port: config.admin!.port, host: config.admin!.host });
  const url = await gateway.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    adminUrl,
    gateway,
    configFile,
    logs,
    close: async () => {
      await gateway.app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
