import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { create, toBinary, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { GrpcStatus } from '../../src/errors/status-codes.js';
import { compileRpc, Upstream, type CallContext } from '../../src/upstreams/upstream.js';
import { probeMethod, probeRegistry, ProbeService } from '../support/probe-backend.js';
import { waitFor } from '../support/wait.js';

/*
 * The unary call drives grpc-js's channel call directly (src/upstreams/upstream.ts), so the
 * checks grpc-js's Client layer made are the gateway's own: these run them against a real
 * grpc-js server on loopback that breaks the unary contract on purpose.
 */

const echo = probeMethod(ProbeService, 'Echo') as DescMethod & { methodKind: 'unary'; input: DescMessage; output: DescMessage };
const rpc = compileRpc(echo);
const raw = (bytes: Buffer): Buffer => bytes;

/** Serves Echo as `behaviour` says, with a raw byte codec so any bytes can be answered. */
type Behaviour = 'garbage' | 'no-message' | 'two-messages' | 'hang';

/** What the server saw: each call that reached the handler, and each that its client cancelled. */
interface Seen {
  handled: Behaviour[];
  cancelled: Behaviour[];
}

async function startMisbehavingServer(): Promise<{ address: string; server: grpc.Server; seen: Seen }> {
  const server = new grpc.Server();
  const seen: Seen = { handled: [], cancelled: [] };
  const definition = {
    Echo: { path: rpc.path, requestStream: false, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
  };
  server.addService(definition, {
    Echo: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const behaviour = call.metadata.get('x-behaviour')[0] as Behaviour;
      seen.handled.push(behaviour);
      call.on('cancelled', () => seen.cancelled.push(behaviour));
      if (behaviour === 'garbage') call.write(Buffer.from([0xff, 0xff, 0xff]));
      if (behaviour === 'two-messages') {
        call.write(Buffer.from(toBinary(echo.output, create(echo.output, { id: 'one' }))));
        call.write(Buffer.from(toBinary(echo.output, create(echo.output, { id: 'two' }))));
      }
      if (behaviour !== 'hang') call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, server, seen };
}

describe('Upstream.unary on the channel call', () => {
  let backend: Awaited<ReturnType<typeof startMisbehavingServer>>;
  let upstream: Upstream;
  const finished: { code: GrpcStatus }[] = [];

  before(async () => {
    backend = await startMisbehavingServer();
    upstream = new Upstream({ name: 'probe', address: backend.address, registry: probeRegistry, observer: { callFinished: (_s, _m, code) => finished.push({ code }) } });
  });
  after(() => {
    upstream.close();
    backend.server.forceShutdown();
  });

  function context(behaviour: Behaviour, signal = new AbortController().signal, deadline = Date.now() + 5_000): CallContext {
    const metadata = new grpc.Metadata();
    metadata.set('x-behaviour', behaviour);
    return { signal, deadline, metadata };
  }

  async function failure(behaviour: Behaviour, signal?: AbortSignal, deadline?: number): Promise<GatewayError> {
    const err = await upstream.unary(rpc, create(echo.input, { id: 'x' }) as never, context(behaviour, signal, deadline)).then(
      () => assert.fail('the call should have failed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GatewayError);
    return err;
  }

  it('ends a call whose response does not parse as INTERNAL, hiding the parser message from the client', async () => {
    const err = await failure('garbage');
    assert.equal(err.code, GrpcStatus.INTERNAL);
    assert.equal(err.httpStatus, 500);
    assert.doesNotMatch(err.message, /parsing/);
    assert.match((err.cause as Error).message, /^13 INTERNAL: response message parsing error: /);
    assert.equal(finished.at(-1)?.code, GrpcStatus.INTERNAL);
  });

  it('treats an OK status without a response message as UNIMPLEMENTED', async () => {
    const err = await failure('no-message');
    assert.equal(err.code, GrpcStatus.UNIMPLEMENTED);
    assert.equal(err.httpStatus, 501);
    assert.equal(finished.at(-1)?.code, GrpcStatus.UNIMPLEMENTED);
  });

  it('fails a unary call whose server answers twice as UNIMPLEMENTED, never answering with either message', async () => {
    const err = await failure('two-messages');
    assert.equal(err.code, GrpcStatus.UNIMPLEMENTED);
    assert.match((err.cause as Error).message, /too many responses received for a unary call/);
    assert.equal(finished.at(-1)?.code, GrpcStatus.UNIMPLEMENTED);
  });

  it('cancels the upstream call when the client hangs up, and reports CANCELLED', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const cancelledBefore = backend.seen.cancelled.length;
    const err = await failure('hang', controller.signal);
    assert.equal(err.code, GrpcStatus.CANCELLED);
    assert.equal(finished.at(-1)?.code, GrpcStatus.CANCELLED);
    await waitFor(() => backend.seen.cancelled.length > cancelledBefore, 2_000, 5);
    assert.deepEqual(backend.seen.cancelled.slice(cancelledBefore), ['hang']);
  });

  it('rejects at once, without calling, when the client is already gone', async () => {
    const controller = new AbortController();
    controller.abort();
    const before = finished.length;
    const handledBefore = backend.seen.handled.length;
    const err = await failure('hang', controller.signal);
    assert.equal(err.code, GrpcStatus.CANCELLED);
    assert.equal(finished.length, before);
    assert.equal(backend.seen.handled.length, handledBefore);
  });

  it('ends a call that outlives its deadline as DEADLINE_EXCEEDED', async () => {
    const err = await failure('hang', undefined, Date.now() + 100);
    assert.equal(err.code, GrpcStatus.DEADLINE_EXCEEDED);
    assert.equal(err.httpStatus, 504);
  });

  it('fails a request message that does not serialize as INTERNAL, without sending it', async () => {
    // A message of another type: protobuf-es refuses to write its fields as an EchoRequest's.
    const notAnEchoRequest = create(echo.output, { id: 'x' });
    const before = finished.length;
    const handledBefore = backend.seen.handled.length;
    const err = await upstream.unary(rpc, notAnEchoRequest as never, context('no-message')).then(
      () => assert.fail('the call should have failed'),
      (e: unknown) => e as GatewayError,
    );
    assert.equal(err.code, GrpcStatus.INTERNAL);
    assert.match((err.cause as Error).message, /request message serialization failure: cannot use field probe\.v1\.EchoRequest\.id/);
    assert.equal(finished.length, before + 1);
    assert.equal(finished.at(-1)?.code, GrpcStatus.INTERNAL);
    // A server-streaming handler runs once the request message arrives: it never did.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(backend.seen.handled.length, handledBefore);
  });
});
