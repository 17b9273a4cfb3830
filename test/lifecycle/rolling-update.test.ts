import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, type DescMessage } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { startGrpcServer, type RunningGrpcServer } from '../../src/demo/grpc-server.js';
import { repoRoot } from '../support/gateway.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/*
 * A rolling update as an orchestrator runs one: two gateway processes behind a load balancer
 * that sends only to backends whose /readyz answers 200; under steady load a third process is
 * started on a new port, and once the balancer has it, one of the first two gets SIGTERM. The
 * balancer is the test's own (a Kubernetes Service or an ingress controller in production)
 * and never retries: a request that fails to connect or is cut counts as dropped, and the
 * update must drop none. shutdown.delayMs gives the balancer's readiness poll time to notice
 * the draining process before its listener closes.
 */

const fixtures = path.join(repoRoot, 'test/fixtures/protos');
const registry = buildFileRegistry(loadProtoSources([fixtures], ['lifecycle/v1/slow.proto']));
const service = registry.getService('lifecycle.v1.SlowService')!;
const responseSchema = registry.getMessage('lifecycle.v1.WaitResponse') as DescMessage;

const requestsPerSecond = 200;
const loadMs = 15_000;
const readinessPollMs = 100;
/** Like a readiness probe's timeoutSeconds and failureThreshold: a slow answer is not a 503. */
const readinessTimeoutMs = 1000;
const readinessFailureThreshold = 3;
/** Upstream time per call, so requests are in flight when SIGTERM arrives. */
const upstreamDelayMs = 20;

let upstream: RunningGrpcServer;
let configFile: string;
let tmp: string;

before(async () => {
  const impl: grpc.UntypedServiceImplementation = {
    wait: (call: grpc.ServerUnaryCall<{ delayMs: number }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      setTimeout(() => callback(null, create(responseSchema, { waitedMs: call.request.delayMs })), call.request.delayMs);
    },
  };
  upstream = await startGrpcServer([{ service, impl } as never]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-rolling-'));
  configFile = path.join(tmp, 'config.yaml');
  fs.writeFileSync(
    configFile,
    `server: { port: 0, host: 127.0.0.1 }
shutdown: { delayMs: 1000, graceMs: 5000 }
logging: { level: warn }
protos: { includeDirs: [${fixtures}] }
services:
  - { name: slow, protoFiles: [lifecycle/v1/slow.proto], service: lifecycle.v1.SlowService, address: "${upstream.address}" }
`,
  );
});

after(async () => {
  await upstream?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface GatewayProcess {
  child: ChildProcess;
  url: string;
  exit: Promise<number | null>;
}

/**
 * Starts `src/server.ts --config` as its own process on a port of its own (PORT overrides
 * server.port, as in the container) and waits until it answers. The config logs at `warn`:
 * the access lines of 200 req/s would go through a pipe this busy test process drains late.
 */
async function startGatewayProcess(): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', '--config', configFile], { cwd: repoRoot, env: { ...process.env, PORT: String(port) } });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const answers = (): Promise<boolean> => fetch(`${url}/healthz`).then((response) => response.ok, () => false);
  const started = await waitFor(async () => child.exitCode !== null || (await answers()), 40_000, 50).then(
    () => child.exitCode === null,
    () => false,
  );
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`gateway did not start:\n${output}`);
  }
  return { child, url, exit };
}

interface Backend {
  readonly url: URL;
  readonly agent: http.Agent;
  ready: boolean;
  /** Polls in a row that got no answer in time. */
  unanswered: number;
  polling: boolean;
  routed: number;
}

/** Round-robin over the backends whose last /readyz answer was 200; no retries. */
class ReadinessBalancer {
  readonly #backends: Backend[] = [];
  #next = 0;
  readonly #poller = setInterval(() => this.#poll(), readinessPollMs);
  // Idle client connections are kept longer than the load's gaps, as a real load balancer
  // does: Node's 5 s default races the client reusing them, which is no part of the update.
  readonly server = http.createServer({ keepAliveTimeout: 60_000 }, (request, response) => this.#route(request, response));

  add(url: string): Backend {
    const backend = { url: new URL(url), agent: new http.Agent({ keepAlive: true }), ready: false, unanswered: 0, polling: false, routed: 0 };
    this.#backends.push(backend);
    return backend;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): void {
    clearInterval(this.#poller);
    this.server.closeAllConnections();
    this.server.close();
    for (const backend of this.#backends) backend.agent.destroy();
  }

  /**
   * A 200 or 503 counts at once; a poll that times out counts only after a few in a row (a
   * busy process is not a draining one); a refused connection means the process has gone.
   */
  #poll(): void {
    for (const backend of this.#backends) {
      if (backend.polling) continue;
      backend.polling = true;
      const settle = (ready: boolean | undefined): void => {
        backend.polling = false;
        if (ready !== undefined) {
          backend.unanswered = 0;
          backend.ready = ready;
        } else if (++backend.unanswered >= readinessFailureThreshold) backend.ready = false;
      };
      const probe = http.get(new URL('/readyz', backend.url), { agent: false, timeout: readinessTimeoutMs }, (response) => {
        response.resume();
        settle(response.statusCode === 200);
      });
      probe.on('timeout', () => probe.destroy(new Error('timeout')));
      probe.on('error', (err) => settle(err.message === 'timeout' ? undefined : false));
    }
  }

  #route(request: http.IncomingMessage, response: http.ServerResponse): void {
    const ready = this.#backends.filter((backend) => backend.ready);
    if (ready.length === 0) {
      response.writeHead(503).end('no ready backend');
      return;
    }
    const backend = ready[this.#next++ % ready.length]!;
    backend.routed++;
    const proxied = http.request(
      { host: backend.url.hostname, port: backend.url.port, path: request.url, method: request.method, headers: request.headers, agent: backend.agent },
      (answer) => {
        const { connection: _connection, 'keep-alive': _keepAlive, ...headers } = answer.headers;
        response.writeHead(answer.statusCode!, headers);
        answer.pipe(response);
        answer.on('error', () => response.destroy());
      },
    );
    proxied.on('error', (err) => {
      if (response.headersSent) response.destroy();
      else response.writeHead(502).end(`backend ${backend.url.host}: ${err.message}`);
    });
    request.pipe(proxied);
  }
}

interface Outcome {
  ok: number;
  failures: string[];
}

/** One GET through `agent`: its status and body, or the error that ended it. */
function get(url: string, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/**
 * Sends `requestsPerSecond` for `loadMs` and until `until` settles, paced, and waits for every
 * answer. The clients keep
 * a bounded pool of connections, as a fleet of real clients would: on a busy machine a paced
 * burst would otherwise open hundreds of connections at once and measure the test's own
 * accept queue.
 */
async function steadyLoad(url: string, outcome: Outcome, until: Promise<unknown>): Promise<void> {
  let done = false;
  void until.finally(() => (done = true));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const started = performance.now();
  const pending: Promise<void>[] = [];
  const one = async (n: number): Promise<void> => {
    const sentAt = Math.round(performance.now() - started);
    try {
      const { status, body } = await get(`${url}/v1/wait/${upstreamDelayMs}`, agent);
      if (status === 200 && body.includes(`"waitedMs":${upstreamDelayMs}`)) outcome.ok++;
      else outcome.failures.push(`#${n} sent at ${sentAt} ms: ${status} ${body.slice(0, 200)}`);
    } catch (err) {
      outcome.failures.push(`#${n} sent at ${sentAt} ms: ${(err as Error).message}`);
    }
  };
  let sent = 0;
  while (performance.now() - started < loadMs || !done) {
    const due = Math.floor(((performance.now() - started) * requestsPerSecond) / 1000);
    while (sent < due) pending.push(one(sent++));
    await sleep(5);
  }
  await Promise.all(pending);
  agent.destroy();
}

test('a rolling update under 200 req/s drops no request: the old process drains and exits 0, the new one takes over', async (t) => {
  const [first, second] = await Promise.all([startGatewayProcess(), startGatewayProcess()]);
  const balancer = new ReadinessBalancer();
  const processes = [first, second];
  try {
    const url = await balancer.listen();
    const old = balancer.add(first.url);
    const kept = balancer.add(second.url);
    await waitFor(() => old.ready && kept.ready);

    const outcome: Outcome = { ok: 0, failures: [] };
    const loadStarted = performance.now();
    const at = (): string => `${Math.round(performance.now() - loadStarted)} ms`;
    // On a machine this busy the replacement can take longer than loadMs to start: the load
    // then goes on until the update is over and the replacement has served for a second.
    let updated!: () => void;
    const load = steadyLoad(url, outcome, new Promise<void>((resolve) => (updated = resolve)));
    await sleep(3000);
    // maxSurge 1, maxUnavailable 0: the replacement is ready before the old one is told to go.
    const third = await startGatewayProcess();
    processes.push(third);
    const replacement = balancer.add(third.url);
    await waitFor(() => replacement.ready, 10_000, 20);
    const routedBeforeUpdate = replacement.routed;
    t.diagnostic(`replacement ready at ${at()}; SIGTERM to the old process`);
    first.child.kill('SIGTERM');
    const exitCode = await first.exit;
    t.diagnostic(`old process exited with ${exitCode} at ${at()}`);
    const routedToOldAfterExit = old.routed;
    await sleep(1000);
    updated();
    await load;

    t.diagnostic(`load over at ${at()}: sent ${outcome.ok + outcome.failures.length} requests: ${outcome.ok} answered 200, ${outcome.failures.length} failed`);
    t.diagnostic(`routed: old ${old.routed}, kept ${kept.routed}, replacement ${replacement.routed}`);
    for (const failure of outcome.failures.slice(0, 10)) t.diagnostic(`failed: ${failure}`);
    if (outcome.failures.length > 10) t.diagnostic(`last failed: ${outcome.failures.at(-1)}`);
    assert.equal(exitCode, 0, 'the old process drained and exited 0');
    assert.equal(old.routed, routedToOldAfterExit, 'nothing was sent to the old process once it had gone');
    assert.ok(replacement.routed - routedBeforeUpdate > 100, 'the replacement took its share of the load');
    assert.deepEqual(outcome.failures, [], 'no request was dropped');
  } finally {
    balancer.close();
    for (const { child } of processes) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exit));
  }
});
