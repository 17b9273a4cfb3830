import * as grpc from '@grpc/grpc-js';
import { fromBinary, type DescMethod } from '@bufbuild/protobuf';
import { encode, listPage, loadBenchProto, smallItem, type BenchProto } from './bench-proto.js';

/*
 * The benchmark's gRPC backend, run as a child process of bench/run.ts (which reads its
 * address from the first IPC message). Both the gateway and the direct client call it, so it
 * is shared cost; it is kept as cheap as possible so that the figures show the caller:
 * responses are encoded once and sent as ready-made bytes (responseSerialize is the identity),
 * and only requests are decoded, which proves the caller sent valid protobuf.
 */

const proto = loadBenchProto();

type Handlers = Record<string, grpc.UntypedHandleCall>;

/** A grpc-js definition whose responses are pre-encoded Buffers. */
function definition(service: BenchProto['service']): grpc.ServiceDefinition {
  return Object.fromEntries(
    service.methods.map((method: DescMethod): [string, grpc.MethodDefinition<object, Buffer>] => [
      method.localName,
      {
        path: `/${service.typeName}/${method.name}`,
        originalName: method.name,
        requestStream: false,
        responseStream: method.methodKind === 'server_streaming',
        requestSerialize: () => Buffer.alloc(0),
        requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
        responseSerialize: (bytes: Buffer) => bytes,
        responseDeserialize: (bytes: Buffer) => bytes,
      },
    ]),
  );
}

// Protobuf fields may come in any order and a repeated decode merges, so "id field" + "the
// rest" is a valid Item: the response echoes the requested id without a per-call encode.
const itemWithoutId = encode(proto.item, smallItem(42));
const idField = (id: string): Buffer => encode(proto.item, { id });
const created = encode(proto.createItemResponse, { id: 'item-new', created: true });
const pages = new Map<number, Buffer>();
const streamItems = Array.from({ length: 1000 }, (_, i) => encode(proto.item, { id: `item-${i}`, ...smallItem(i) }));

function page(size: number): Buffer {
  let bytes = pages.get(size);
  if (!bytes) {
    bytes = encode(proto.listItemsResponse, listPage(size));
    pages.set(size, bytes);
  }
  return bytes;
}

const invalid = (details: string): Partial<grpc.StatusObject> => ({ code: grpc.status.INVALID_ARGUMENT, details });

const handlers: Handlers = {
  getItem: ((call: grpc.ServerUnaryCall<{ id: string }, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    const { id } = call.request;
    if (!id) return callback(invalid('id is required'));
    callback(null, Buffer.concat([idField(id), itemWithoutId]));
  }) as grpc.UntypedHandleCall,
  createItem: ((call: grpc.ServerUnaryCall<{ item?: { id: string } }, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    if (!call.request.item?.id) return callback(invalid('item.id is required'));
    callback(null, created);
  }) as grpc.UntypedHandleCall,
  listItems: ((call: grpc.ServerUnaryCall<{ pageSize: number }, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    const size = call.request.pageSize;
    if (size < 1 || size > 5000) return callback(invalid('page_size must be from 1 to 5000'));
    callback(null, page(size));
  }) as grpc.UntypedHandleCall,
  streamItems: ((call: grpc.ServerWritableStream<{ count: number }, Buffer>) => {
    const count = Math.min(call.request.count || 100, streamItems.length);
    let sent = 0;
    // Honour backpressure as a real service would: write until the transport is full, resume on drain.
    const pump = (): void => {
      while (sent < count && !call.cancelled) {
        if (!call.write(streamItems[sent++]!)) return void call.once('drain', pump);
      }
      if (!call.cancelled) call.end();
    };
    pump();
  }) as grpc.UntypedHandleCall,
};

async function main(): Promise<void> {
  const server = new grpc.Server();
  server.addService(definition(proto.service), handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(process.env['BENCH_BACKEND_ADDRESS'] ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  // The IPC channel keeps the process alive, so stopping means exiting. The parent going away
  // (even by a crash) ends the backend too: no orphaned servers.
  const stop = (): void => {
    server.forceShutdown();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  process.send?.({ address: `127.0.0.1:${port}` });
}

main().catch((err: unknown) => {
  console.error('bench backend failed:', err);
  process.exit(1);
});
