import assert from 'node:assert/strict';
import http from 'node:http';
import { acceptanceProtoDir, echoProtoFile, startEchoUpstream, type EchoUpstream } from '../fixtures/echo-upstream.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.js';
import type { GatewayConfig } from '../../src/config/schema.js';

/*
 * The conformance stack: a real grpc-js echo upstream on loopback and the real gateway on a
 * loopback socket in front of it. Tests talk HTTP to `url` like any outside client.
 */

export interface EchoServiceOverrides {
  timeoutMs?: number;
  streamTimeoutMs?: number;
  allowUnknownFields?: boolean;
}

export interface Stack {
  url: string;
  port: number;
  upstream: EchoUpstream;
  gateway: RunningGateway;
  close(): Promise<void>;
}

/** The service entry for acceptance.v1.EchoService at `address`. */
export function echoService(address: string, overrides: EchoServiceOverrides = {}): Record<string, unknown> {
  return {
    name: 'echo',
    protoFiles: [echoProtoFile],
    service: 'acceptance.v1.EchoService',
    address,
    timeoutMs: 2000,
    ...overrides,
  };
}

/** A validated config with the acceptance include dir and the given services. */
export function stackConfig(services: Record<string, unknown>[], extra: Record<string, unknown> = {}): GatewayConfig {
  return testConfig({ protos: { includeDirs: [acceptanceProtoDir] }, services, ...extra });
}

export async function startStack(overrides: EchoServiceOverrides = {}, extra: Record<string, unknown> = {}): Promise<Stack> {
  const upstream = await startEchoUpstream();
  const gateway = await startGateway(stackConfig([echoService(upstream.address, overrides)], extra));
  return {
    url: gateway.url,
    port: gateway.port,
    upstream,
    gateway,
    close: async () => {
      await gateway.close();
      await upstream.close();
    },
  };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as is when a string, else JSON-encoded with content-type application/json. */
  body?: unknown;
}

/** One request over a socket with fetch; the raw path (with its escapes) is sent as written. */
export async function request(stack: { url: string }, path: string, options: RequestOptions = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string') body = options.body;
    else {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
  }
  const response = await fetch(`${stack.url}${path}`, { method: options.method ?? 'GET', headers, ...(body !== undefined && { body }) });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A successful JSON response: asserts status 200 and the content type, returns the body. */
export async function getJson(stack: { url: string }, path: string, options: RequestOptions = {}): Promise<Record<string, unknown>> {
  const result = await request(stack, path, options);
  assert.equal(result.status, 200, `${options.method ?? 'GET'} ${path}: ${result.text}`);
  assert.equal(result.headers.get('content-type'), 'application/json; charset=utf-8');
  return result.json as Record<string, unknown>;
}

export interface Envelope {
  code: number;
  status: string;
  message: string;
  requestId: string;
  details: Record<string, unknown>[];
}

/** Asserts an error envelope with the status pair and a request id equal to X-Request-ID. */
export function assertEnvelope(result: HttpResult, httpStatus: number, grpcStatus: string): Envelope {
  assert.equal(result.status, httpStatus, result.text);
  assert.equal(result.headers.get('content-type'), 'application/json; charset=utf-8');
  const body = result.json as { error: Envelope };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'details', 'message', 'requestId', 'status']);
  assert.equal(body.error.code, httpStatus);
  assert.equal(body.error.status, grpcStatus);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(Array.isArray(body.error.details));
  const requestId = result.headers.get('x-request-id');
  assert.ok(requestId, 'X-Request-ID response header');
  assert.equal(body.error.requestId, requestId);
  return body.error;
}

/** The `fieldViolations` of the envelope's google.rpc.BadRequest detail. */
export function fieldViolations(envelope: Envelope): { field: string; description: string }[] {
  const detail = envelope.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.BadRequest');
  assert.ok(detail, `a google.rpc.BadRequest detail in ${JSON.stringify(envelope.details)}`);
  return detail['fieldViolations'] as { field: string; description: string }[];
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http request, for what fetch cannot send (chunked bodies, HEAD details, big headers). */
export function rawRequest(
  stack: { port: number },
  options: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; chunks?: (string | Buffer)[] },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: stack.port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}
