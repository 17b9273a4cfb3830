import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { create, toBinary, type DescMessage, type DescMethod } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { GatewayError } from '../../src/errors/gateway-error.js';
import { GrpcStatus } from '../../src/errors/status-codes.js';
import { balancedChannel } from '../../src/upstreams/balancing/channel-balancing.js';
import { noMetrics } from '../../src/observability/metrics.js';
import { ServiceHealth } from '../../src/upstreams/health/service-health.js';
import { detailsRegistry } from '../../src/upstreams/status-details.js';
import { compileRpc, Upstream, type CallContext, type UpstreamStream } from '../../src/upstreams/upstream.js';
import { probeMethod, probeRegistry, ProbeService } from '../support/probe-backend.js';
import { waitFor } from '../support/wait.js';

/*
 * Unary calls and server streams drive grpc-js's channel call directly
 * (src/upstreams/upstream.ts), so the checks grpc-js's Client layer made, and a stream's
 * backpressure, are the gateway's own: these run them against a real grpc-js server on
 * loopback that breaks the contract on purpose, or streams as told.
 */

const echo = probeMethod(ProbeService, 'Echo') as DescMethod & { methodKind: 'unary'; input: DescMessage; output: DescMessage };
const rpc = compileRpc(echo, detailsRegistry(probeRegistry));
const raw = (bytes: Buffer): Buffer => bytes;

/**
 * Serves Echo as `behaviour` says, with a raw byte codec so any bytes can be answered. `stream`
 * writes `x-count` messages (ids m0, m1, ...) as fast as grpc-js takes them; `good-then-garbage`
 * writes one good message, then bytes that do not parse.
 */
type Behaviour = 'garbage' | 'no-message' | 'two-messages' | 'hang' | 'stream' | 'good-then-garbage';

/** What the server saw: each call that reached the handler, each that its client cancelled, and messages written. */
interface Seen {
  handled: Behaviour[];
  cancelled: Behaviour[];
  written: number;
}

/** ~1 KiB per message, so that a few hundred fill the HTTP/2 window and grpc-js's buffers. */
const padding = 'x'.repeat(1000);
const answer = (id: string): Buffer => Buffer.from(toBinary(echo.output, create(echo.output, { id })));

async function startMisbehavingServer(): Promise<{ address: string; server: grpc.Server; seen: Seen }> {
  const server = new grpc.Server();
  const seen: Seen = { handled: [], cancelled: [], written: 0 };
  const definition = {
    Echo: { path: rpc.path, requestStream: false, responseStream: true, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw },
  };
  server.addService(definition, {
    Echo: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const behaviour = call.metadata.get('x-behaviour')[0] as Behaviour;
      seen.handled.push(behaviour);
      call.on('cancelled', () => seen.cancelled.push(behaviour));
      if (behaviour === 'stream') {
        void writeMessages(call, Number(call.metadata.get('x-count')[0]), seen);
        return;
      }
      if (behaviour === 'good-then-garbage') call.write(answer('one'));
      if (behaviour === 'garbage' || behaviour === 'good-then-garbage') call.write(Buffer.from([0xff, 0xff, 0xff]));
      if (behaviour === 'two-messages') {
        call.write(answer('one'));
        call.write(answer('two'));
      }
      if (behaviour !== 'hang') call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { address: `127.0.0.1:${port}`, server, seen };
}

async function writeMessages(call: grpc.ServerWritableStream<Buffer, Buffer>, count: number, seen: Seen): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (call.cancelled) return;
    const more = call.write(answer(`m${i}-${padding}`));
    seen.written++;
    if (!more) {
      // The once() that loses the race is aborted: left pending, each wait would leave an 'error'
      // and a 'cancelled' listener on the call (MaxListenersExceededWarning after ten).
      const waited = new AbortController();
      await Promise.race([once(call, 'drain', { signal: waited.signal }), once(call, 'cancelled', { signal: waited.signal })]).finally(() => waited.abort());
    }
  }
  if (!call.cancelled) call.end();
}

/** One server and one Upstream for the whole file; the tests run one after another. */
let backend: Awaited<ReturnType<typeof startMisbehavingServer>>;
let upstream: Upstream;
/** The observer's record of every call's final code. */
const finished: { code: GrpcStatus }[] = [];
/** Listener leaks, on either side, show as MaxListenersExceededWarning. */
const listenerLeaks: string[] = [];
const recordLeak = (warning: Error): void => {
  if (warning.name === 'MaxListenersExceededWarning') listenerLeaks.push(warning.message);
};
process.on('warning', recordLeak);

before(async () => {
  backend = await startMisbehavingServer();
  const health = new ServiceHealth('probe', { allUnhealthy: 'fail_open' }, noMetrics);
  upstream = new Upstream({ name: 'probe', ...balancedChannel({ address: backend.address, balancing: 'round_robin' }, health), keepalive: { timeMs: 300_000, timeoutMs: 20_000 }, observer: { callFinished: (_s, _m, code) => finished.push({ code }), refused() {} }, health });
});
after(() => {
  upstream.close();
  backend.server.forceShutdown();
});

describe('Upstream.unary on the channel call', () => {
  function context(behaviour: Behaviour, signal = new AbortController().signal, deadline = Date.now() + 5_000): CallContext {
    const metadata = new grpc.Metadata();
    metadata.set('x-behaviour', behaviour);
    return { signal, deadline, metadata, outcome: { upstreamCode: '' } };
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

describe('Upstream.serverStream on the channel call', () => {
  interface Received {
    ids: string[];
    /** Resolves with the end's error (undefined for OK). */
    ended: Promise<GatewayError | undefined>;
    /** Whether end() ran before serverStream() returned (the listener must never be called synchronously). */
    endedBeforeReturn: () => boolean;
    handle: UpstreamStream;
  }

  /** Starts a stream; `onMessage` runs after each message is recorded, with the handle. */
  function stream(behaviour: Behaviour, options: { count?: number; signal?: AbortSignal; onMessage?: (handle: UpstreamStream, ids: string[]) => void } = {}): Received {
    const metadata = new grpc.Metadata();
    metadata.set('x-behaviour', behaviour);
    metadata.set('x-count', String(options.count ?? 0));
    const ctx: CallContext = { signal: options.signal ?? new AbortController().signal, deadline: Date.now() + 10_000, metadata, outcome: { upstreamCode: '' } };
    const ids: string[] = [];
    let endWith!: (err: GatewayError | undefined) => void;
    const ended = new Promise<GatewayError | undefined>((resolve) => (endWith = resolve));
    let returned = false;
    let endedBeforeReturn = false;
    const handle: UpstreamStream = upstream.serverStream(rpc, create(echo.input, { id: 'x' }) as never, ctx, {
      message: (message) => {
        ids.push((message as unknown as { id: string }).id.split('-')[0]!);
        options.onMessage?.(handle, ids);
      },
      end: (err) => {
        endedBeforeReturn = !returned;
        endWith(err);
      },
    });
    returned = true;
    return { ids, ended, endedBeforeReturn: () => endedBeforeReturn, handle };
  }

  const expectedIds = (count: number): string[] => Array.from({ length: count }, (_, i) => `m${i}`);

  it('delivers every message in order, then ends OK', async () => {
    const received = stream('stream', { count: 300 });
    assert.equal(await received.ended, undefined);
    assert.deepEqual(received.ids, expectedIds(300));
    assert.equal(finished.at(-1)?.code, GrpcStatus.OK);
  });

  it('holds the upstream back while paused, and delivers the rest in order once resumed', async () => {
    const count = 3000;
    const writtenBefore = backend.seen.written;
    const received = stream('stream', { count, onMessage: (handle, ids) => ids.length === 1 && handle.pause() });
    // Paused after the first message: the server writes until the buffers between are full, then waits.
    let written = -1;
    for (let waited = 0; backend.seen.written !== written && waited < 10_000; waited += 200) {
      written = backend.seen.written;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(written - writtenBefore < count / 2, `the server wrote ${written - writtenBefore} of ${count} messages while the reader was paused`);
    assert.deepEqual(received.ids, ['m0']);
    received.handle.resume();
    assert.equal(await received.ended, undefined);
    assert.deepEqual(received.ids, expectedIds(count));
  });

  it('ends a stream whose message does not parse as INTERNAL, after the messages before it', async () => {
    const received = stream('good-then-garbage');
    const err = await received.ended;
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, GrpcStatus.INTERNAL);
    assert.doesNotMatch(err.message, /parsing/);
    assert.match((err.cause as Error).message, /^13 INTERNAL: response message parsing error: /);
    assert.deepEqual(received.ids, ['one']);
    assert.equal(finished.at(-1)?.code, GrpcStatus.INTERNAL);
  });

  it('ends the call INTERNAL, and cancels the upstream, when a message cannot be relayed', async () => {
    const cancelledBefore = backend.seen.cancelled.length;
    const received = stream('stream', {
      count: 1000,
      onMessage: () => {
        throw new Error('no JSON for this');
      },
    });
    const err = await received.ended;
    assert.equal(err?.code, GrpcStatus.INTERNAL);
    assert.match((err?.cause as Error).message, /response message could not be relayed: no JSON for this/);
    assert.deepEqual(received.ids, ['m0']);
    await waitFor(() => backend.seen.cancelled.length > cancelledBefore, 2_000, 5);
  });

  it('cancels the upstream on cancel(), and ends CANCELLED', async () => {
    const cancelledBefore = backend.seen.cancelled.length;
    const received = stream('stream', { count: 100_000, onMessage: (handle, ids) => ids.length === 10 && handle.cancel() });
    const err = await received.ended;
    assert.equal(err?.code, GrpcStatus.CANCELLED);
    assert.equal(finished.at(-1)?.code, GrpcStatus.CANCELLED);
    await waitFor(() => backend.seen.cancelled.length > cancelledBefore, 2_000, 5);
    assert.deepEqual(backend.seen.cancelled.slice(cancelledBefore), ['stream']);
  });

  it('cancels the upstream when the client hangs up mid-stream', async () => {
    const cancelledBefore = backend.seen.cancelled.length;
    const controller = new AbortController();
    const received = stream('stream', { count: 100_000, signal: controller.signal, onMessage: (_handle, ids) => ids.length === 10 && controller.abort() });
    const err = await received.ended;
    assert.equal(err?.code, GrpcStatus.CANCELLED);
    await waitFor(() => backend.seen.cancelled.length > cancelledBefore, 2_000, 5);
    assert.ok(received.ids.length < 100_000);
  });

  it('ends CANCELLED, after returning and without calling, when the client is already gone', async () => {
    const controller = new AbortController();
    controller.abort();
    const before = finished.length;
    const handledBefore = backend.seen.handled.length;
    const received = stream('stream', { count: 10, signal: controller.signal });
    const err = await received.ended;
    assert.equal(received.endedBeforeReturn(), false);
    assert.equal(err?.code, GrpcStatus.CANCELLED);
    assert.deepEqual(received.ids, []);
    assert.equal(finished.length, before);
    assert.equal(backend.seen.handled.length, handledBefore);
  });
});

describe('listeners', () => {
  it('are not left behind on the calls (no MaxListenersExceededWarning)', async () => {
    // Warnings are emitted on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', recordLeak);
    assert.deepEqual(listenerLeaks, []);
  });
});
