import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  grpcError,
  implement,
  serviceDefinition,
  startGrpcServer,
  type ServiceImpl,
} from '../../src/demo/grpc-server.js';
import { InvestorService } from '../../src/gen/investor/v1/investor_pb.js';
import { MarketMonitorService, type Quote } from '../../src/gen/market-monitor/v1/market_monitor_pb.js';
import { collect, connect, grpcStatus, serverStream, unary } from './grpc-client.js';

const unusedQuotes: ServiceImpl<typeof MarketMonitorService> = {
  getQuote: async () => ({}),
  streamQuotes: async function* () {},
  watchAlerts: async () => ({}),
};

/** A client of a server that answers GetInvestor with `getInvestor`. */
async function investorClient(
  t: TestContext,
  getInvestor: ServiceImpl<typeof InvestorService>['getInvestor'],
): Promise<grpc.Client> {
  const impl = implement(InvestorService, { getInvestor, listHoldings: async () => ({}) });
  const server = await startGrpcServer([{ service: InvestorService, impl }]);
  const client = connect(server.address);
  t.after(async () => {
    client.close();
    await server.close();
  });
  return client;
}

describe('serviceDefinition', () => {
  it('routes each method at /package.Service/Method and flags its streaming sides', () => {
    const definition = serviceDefinition(MarketMonitorService);
    assert.deepEqual(
      Object.entries(definition).map(([name, method]) => [name, method.path, method.requestStream, method.responseStream]),
      [
        ['getQuote', '/market_monitor.v1.MarketMonitorService/GetQuote', false, false],
        ['streamQuotes', '/market_monitor.v1.MarketMonitorService/StreamQuotes', false, true],
        ['watchAlerts', '/market_monitor.v1.MarketMonitorService/WatchAlerts', true, false],
      ],
    );
  });
});

describe('implement', () => {
  it('refuses to build handlers when a method has no implementation', () => {
    const { watchAlerts: _omitted, ...partial } = unusedQuotes;
    assert.throws(
      () => implement(MarketMonitorService, partial as ServiceImpl<typeof MarketMonitorService>),
      /no implementation for WatchAlerts/,
    );
  });

  it('builds the response from the plain object the implementation returns', async (t) => {
    const client = await investorClient(t, async (request) => ({ investorId: request.investorId, displayName: 'Echo' }));
    const investor = await unary(client, InvestorService.method.getInvestor, { investorId: 5n });
    assert.equal(investor.investorId, 5n);
    assert.equal(investor.displayName, 'Echo');
  });

  it('passes on the code and message of an error made with grpcError', async (t) => {
    const client = await investorClient(t, async () => {
      throw grpcError(grpc.status.PERMISSION_DENIED, 'investor 5 belongs to another adviser');
    });
    await assert.rejects(
      unary(client, InvestorService.method.getInvestor, { investorId: 5n }),
      grpcStatus(grpc.status.PERMISSION_DENIED, 'investor 5 belongs to another adviser'),
    );
  });

  it('passes on any thrown error that carries a numeric gRPC code', async (t) => {
    const client = await investorClient(t, async () => {
      throw Object.assign(new Error('slow down'), { code: grpc.status.RESOURCE_EXHAUSTED });
    });
    await assert.rejects(
      unary(client, InvestorService.method.getInvestor, { investorId: 5n }),
      grpcStatus(grpc.status.RESOURCE_EXHAUSTED, 'slow down'),
    );
  });

  it('turns other failures into INTERNAL without revealing their message', async (t) => {
    const client = await investorClient(t, async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
    });
    await assert.rejects(
      unary(client, InvestorService.method.getInvestor, { investorId: 5n }),
      grpcStatus(grpc.status.INTERNAL, 'internal error'),
    );
  });

  it('ends a server stream with the status of an error thrown after some messages', async (t) => {
    const impl = implement(MarketMonitorService, {
      ...unusedQuotes,
      streamQuotes: async function* () {
        yield { symbol: 'AAPL', price: 1 };
        throw grpcError(grpc.status.UNAVAILABLE, 'price feed disconnected');
      },
    });
    const server = await startGrpcServer([{ service: MarketMonitorService, impl }]);
    const client = connect(server.address);
    t.after(async () => {
      client.close();
      await server.close();
    });

    const received: Quote[] = [];
    const stream = serverStream(client, MarketMonitorService.method.streamQuotes, { symbols: ['AAPL'] });
    stream.on('data', (quote: Quote) => received.push(quote));
    await assert.rejects(collect(stream), grpcStatus(grpc.status.UNAVAILABLE, 'price feed disconnected'));
    assert.deepEqual(
      received.map((q) => q.symbol),
      ['AAPL'],
    );
  });
});

describe('startGrpcServer', () => {
  it('reports the port it picked and cuts off a stream that outlasts the shutdown grace', async () => {
    const impl = implement(MarketMonitorService, {
      ...unusedQuotes,
      // Never ends by itself: only the shutdown can stop it.
      streamQuotes: async function* (_request, _call, signal) {
        yield { symbol: 'AAPL' };
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      },
    });
    const server = await startGrpcServer([{ service: MarketMonitorService, impl }]);
    assert.match(server.address, /^127\.0\.0\.1:[1-9]\d*$/);
    const client = connect(server.address);
    const stream = serverStream(client, MarketMonitorService.method.streamQuotes, { symbols: ['AAPL'] });
    const outcome = collect(stream).then(
      () => 'ended',
      (err: grpc.ServiceError) => err.code,
    );
    await new Promise((resolve) => stream.once('data', resolve));

    const started = Date.now();
    await server.close();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1_900 && elapsed < 4_000, `close took ${elapsed} ms`);
    assert.notEqual(await outcome, 'ended');
    client.close();
  });
});
