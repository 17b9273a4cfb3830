import * as grpc from '@grpc/grpc-js';
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { StatusSchema } from '../../src/gen/google/rpc/status_pb.js';

/*
 * A plain grpc-js client driven by generated descriptors, so the demo backends are tested the
 * way any gRPC client sees them: bytes on the wire, not the adapter that produced them.
 */

type Input<M extends DescMethod> = MessageInitShape<M['input']>;
type Output<M extends DescMethod> = MessageShape<M['output']>;

const pathOf = (method: DescMethod): string => `/${method.parent.typeName}/${method.name}`;

function codec<M extends DescMethod>(method: M) {
  return {
    serialize: (init: Input<M>) => Buffer.from(toBinary(method.input, create(method.input, init))),
    deserialize: (bytes: Buffer) => fromBinary(method.output, bytes) as Output<M>,
  };
}

export function connect(address: string): grpc.Client {
  return new grpc.Client(address, grpc.credentials.createInsecure());
}

export function unary<M extends DescMethod>(client: grpc.Client, method: M, request: Input<M>): Promise<Output<M>> {
  const { serialize, deserialize } = codec(method);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(pathOf(method), serialize, deserialize, request, (err, response) =>
      err || response === undefined ? reject(err) : resolve(response),
    );
  });
}

export function serverStream<M extends DescMethod>(
  client: grpc.Client,
  method: M,
  request: Input<M>,
): grpc.ClientReadableStream<Output<M>> {
  const { serialize, deserialize } = codec(method);
  return client.makeServerStreamRequest(pathOf(method), serialize, deserialize, request);
}

/** Every response of a server stream; rejects with the call's ServiceError if it fails. */
export async function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  const responses: T[] = [];
  for await (const response of stream) responses.push(response as T);
  return responses;
}

export function clientStream<M extends DescMethod>(
  client: grpc.Client,
  method: M,
  requests: readonly Input<M>[],
): Promise<Output<M>> {
  const { serialize, deserialize } = codec(method);
  return new Promise((resolve, reject) => {
    const call = client.makeClientStreamRequest(pathOf(method), serialize, deserialize, (err, response) =>
      err || response === undefined ? reject(err) : resolve(response),
    );
    for (const request of requests) call.write(request);
    call.end();
  });
}

/** A predicate for assert.rejects: the call failed with `code` and, if given, exactly `details`. */
export function grpcStatus(code: grpc.status, details?: string) {
  return (err: unknown): boolean => {
    const serviceError = err as grpc.ServiceError;
    return serviceError.code === code && (details === undefined || serviceError.details === details);
  };
}

/** The google.rpc detail of type `schema` in the call's `grpc-status-details-bin` trailer. */
export function statusDetail<D extends DescMessage>(err: unknown, schema: D): MessageShape<D> | undefined {
  const raw = (err as grpc.ServiceError).metadata?.get('grpc-status-details-bin')[0];
  if (!(raw instanceof Uint8Array)) return undefined;
  for (const detail of fromBinary(StatusSchema, raw).details) {
    const unpacked = anyUnpack(detail, schema);
    if (unpacked) return unpacked;
  }
  return undefined;
}
