import { create, toBinary, type DescMessage, type DescMethod, type DescMethodUnary, type DescService, type Message } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { startGrpcServer, type RunningGrpcServer } from '../../src/demo/grpc-server.js';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { BadRequestSchema } from '../../src/gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';
import { repoRoot } from './gateway.js';

/*
 * The probe.v1 test upstream (test/fixtures/protos/probe/v1/probe.proto), served by a real
 * grpc-js server. There are no generated types for it: the descriptors come from the
 * gateway's own runtime registry, and the handlers are plain grpc-js handlers.
 */

/** Include dir and file for a config's `protos.includeDirs` and `services[].protoFiles`. */
export const probeIncludeDir = 'test/fixtures/protos';
export const probeProtoFile = 'probe/v1/probe.proto';

export const probeRegistry = buildFileRegistry(loadProtoSources([path.join(repoRoot, probeIncludeDir)], [probeProtoFile]));

function serviceOf(typeName: string): DescService {
  const service = probeRegistry.getService(typeName);
  if (!service) throw new Error(`${typeName} is missing from ${probeProtoFile}`);
  return service;
}

export const ProbeService = serviceOf('probe.v1.ProbeService');
export const SlowService = serviceOf('probe.v1.SlowService');

/** A unary method of the probe services, typed loosely enough for defineAclRoute. */
export function probeMethod(service: DescService, name: string): DescMethodUnary<DescMessage, DescMessage> {
  const method = service.methods.find((m) => m.name === name);
  if (!method || method.methodKind !== 'unary') throw new Error(`${service.typeName}.${name} is not a unary method`);
  return method as DescMethodUnary<DescMessage, DescMessage>;
}

/** The field violation the upstream attaches when FailRequest.with_details is set. */
export const upstreamViolation = { field: 'thing.name', description: 'must not be empty' };

/** What the server saw of one call. */
export interface ProbeCall {
  readonly method: string;
  readonly metadata: grpc.Metadata;
  /** Set when grpc-js reports the call as cancelled (caller gone or deadline passed). */
  cancelledAt: number | undefined;
  /** Resolves when the call is cancelled. */
  readonly cancelled: Promise<number>;
}

export interface ProbeBackend {
  readonly address: string;
  /** Every call received, oldest first. */
  readonly calls: ProbeCall[];
  close(): Promise<void>;
}

type Fields = Record<string, unknown>;

function record(calls: ProbeCall[], method: DescMethod, call: grpc.ServerUnaryCall<Message, Message>): ProbeCall {
  let resolveCancelled!: (at: number) => void;
  const entry: ProbeCall = {
    method: method.name,
    metadata: call.metadata.clone(),
    cancelledAt: undefined,
    cancelled: new Promise((resolve) => (resolveCancelled = resolve)),
  };
  call.once('cancelled', () => {
    entry.cancelledAt = Date.now();
    resolveCancelled(entry.cancelledAt);
  });
  calls.push(entry);
  return entry;
}

/** The text metadata as a map; repeated values joined with ", " (binary keys left out). */
function metadataMap(metadata: grpc.Metadata): Record<string, string> {
  const map: Record<string, string> = {};
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    if (key.endsWith('-bin')) continue;
    map[key] = values.map(String).join(', ');
  }
  return map;
}

function failure(code: number, message: string, withDetails: boolean): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  if (withDetails) {
    const badRequest = create(BadRequestSchema, { fieldViolations: [upstreamViolation] });
    const status = create(StatusSchema, { code, message, details: [anyPack(BadRequestSchema, badRequest)] });
    metadata.set('grpc-status-details-bin', Buffer.from(toBinary(StatusSchema, status)));
  }
  return { code, details: message, metadata };
}

function sleeper(calls: ProbeCall[], method: DescMethod): grpc.handleUnaryCall<Message, Message> {
  return (call, callback) => {
    const entry = record(calls, method, call);
    const delayMs = (call.request as unknown as Fields)['delayMs'] as number;
    const started = Date.now();
    const timer = setTimeout(() => callback(null, create(method.output, { sleptMs: Date.now() - started } as never)), delayMs);
    void entry.cancelled.then(() => clearTimeout(timer));
  };
}

/** Starts ProbeService and SlowService on one loopback port. */
export async function startProbeBackend(): Promise<ProbeBackend> {
  const calls: ProbeCall[] = [];
  const echo = probeMethod(ProbeService, 'Echo');
  const fail = probeMethod(ProbeService, 'Fail');
  const probeImpl: grpc.UntypedServiceImplementation = {
    [echo.localName]: ((call, callback) => {
      record(calls, echo, call);
      const id = (call.request as unknown as Fields)['id'] as string;
      callback(null, create(echo.output, { id, metadata: metadataMap(call.metadata) } as never));
    }) satisfies grpc.handleUnaryCall<Message, Message>,
    [probeMethod(ProbeService, 'Wait').localName]: sleeper(calls, probeMethod(ProbeService, 'Wait')),
    [fail.localName]: ((call, callback) => {
      record(calls, fail, call);
      const request = call.request as unknown as Fields;
      const code = request['code'] as number;
      if (code === grpc.status.OK) callback(null, create(fail.output, { outcome: 'ok' } as never));
      else callback(failure(code, request['message'] as string, request['withDetails'] as boolean));
    }) satisfies grpc.handleUnaryCall<Message, Message>,
  };
  const slowImpl: grpc.UntypedServiceImplementation = {
    [probeMethod(SlowService, 'Slow').localName]: sleeper(calls, probeMethod(SlowService, 'Slow')),
  };
  const server: RunningGrpcServer = await startGrpcServer([
    { service: ProbeService, impl: probeImpl },
    { service: SlowService, impl: slowImpl },
  ]);
  return { address: server.address, calls, close: () => server.close() };
}
