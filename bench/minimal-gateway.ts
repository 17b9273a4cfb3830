import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import Fastify from 'fastify';
import path from 'node:path';

/*
 * The reference point of the benchmark: the smallest gateway anyone would write, one Fastify
 * route calling grpc-js through @grpc/proto-loader with default options, with no auth,
 * metrics, logs, validation, deadlines or cancellation, and protobufjs objects instead of
 * proto3 JSON. It is the "40-line Fastify-to-grpc-js gateway", measured in the same
 * run as Portico so that what Portico adds is a ratio of one run, not of two machines.
 * Plain Node runs it (type stripping, package imports only): no tsx loader in its memory.
 * Usage: node bench/minimal-gateway.ts <backend host:port> <port>
 */

interface Item {
  id: string;
}
type GetItem = (request: { id: string }, callback: (err: grpc.ServiceError | null, item?: Item) => void) => void;

const [backend, port] = process.argv.slice(2);
if (!backend || !port) throw new Error('usage: minimal-gateway.ts <backend host:port> <port>');

const protoDir = path.join(import.meta.dirname, 'protos');
const definition = protoLoader.loadSync('bench/v1/bench.proto', { includeDirs: [protoDir, path.join(protoDir, '..', '..', 'node_modules/google-proto-files')], longs: String, defaults: true });
const { bench } = grpc.loadPackageDefinition(definition) as unknown as { bench: { v1: { BenchService: grpc.ServiceClientConstructor } } };
const client = new bench.v1.BenchService(backend, grpc.credentials.createInsecure()) as unknown as { getItem: GetItem };

const app = Fastify();
app.get<{ Params: { id: string } }>('/v1/items/:id', (request, reply) => {
  client.getItem({ id: request.params.id }, (err, item) => {
    if (err) return reply.code(502).send({ code: err.code, message: err.details });
    return reply.send(item);
  });
});
app.get('/readyz', async () => ({ status: 'ready' }));

await app.listen({ port: Number(port), host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
