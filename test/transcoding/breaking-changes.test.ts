import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { normaliseConfig } from '../../src/config/load.js';
import { boundedContexts } from '../../src/contexts/index.js';
import { LiveRoutes } from '../../src/lifecycle/live-routes.js';
import { noMetrics } from '../../src/observability/metrics.js';
import { breakingChanges } from '../../src/transcoding/breaking-changes.js';
import type { RouteSet } from '../../src/transcoding/route-set.js';
import { repoRoot } from '../support/gateway.js';

/*
 * The comparison behind refused reloads (src/transcoding/breaking-changes.ts), over route sets
 * compiled from real .proto files: the binding fixture (test/fixtures/protos/binding), copied
 * into a temp dir and edited one way per test.
 */

const original = fs.readFileSync(path.join(repoRoot, 'test/fixtures/protos/binding/v1/orders.proto'), 'utf8');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portico-breaking-'));
let generations = 0;

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The route set of the orders fixture with `edits` applied ([text, replacement] pairs, each of which must match). */
function routesOf(...edits: [string, string][]): RouteSet {
  let source = original;
  for (const [text, replacement] of edits) {
    assert.ok(source.includes(text), `the fixture has no ${JSON.stringify(text)}`);
    source = source.replace(text, replacement);
  }
  const includeDir = path.join(dir, `generation-${++generations}`);
  fs.mkdirSync(path.join(includeDir, 'binding/v1'), { recursive: true });
  fs.writeFileSync(path.join(includeDir, 'binding/v1/orders.proto'), source);
  const config = normaliseConfig(
    { protos: { includeDirs: [includeDir] }, services: [{ name: 'orders', protoFiles: ['binding/v1/orders.proto'], service: 'binding.v1.OrderService', address: '127.0.0.1:1' }] },
    { baseDir: dir, env: {} },
  );
  const live = new LiveRoutes(config, noMetrics, pino({ level: 'silent' }));
  live.close();
  return live.current.routes;
}

const before = routesOf();
const breaksAfter = (...edits: [string, string][]): string[] => breakingChanges(before, routesOf(...edits));

describe('breakingChanges', () => {
  it('finds nothing between two compilations of the same protos', () => {
    assert.deepEqual(breakingChanges(before, routesOf()), []);
  });

  it('lets additions through: a field, an enum value, a binding, an RPC, a message', () => {
    const breaks = breaksAfter(
      ['  int32 nanos = 3;\n', '  int32 nanos = 3;\n  string symbol = 4;\n'],
      ['  BLUE = 3;\n', '  BLUE = 3;\n  BLACK = 4;\n'],
      ['{get: "/v1/{name=orders/*}"}', '{get: "/v1/{name=orders/*}" additional_bindings {get: "/v2/{name=orders/*}"}}'],
      ['service OrderService {\n', 'message Ping {}\nservice OrderService {\n  rpc Check(Ping) returns (Ping) { option (google.api.http) = {get: "/v1/ping"}; }\n'],
    );
    assert.deepEqual(breaks, []);
  });

  it('names a removed binding with its method, path template and RPC', () => {
    const breaks = breaksAfter(['option (google.api.http) = {delete: "/v1/{name=orders/*}"};', '']);
    assert.deepEqual(breaks, ['binding removed: DELETE /v1/{name=orders/*} (binding.v1.OrderService/DeleteOrder)']);
  });

  it('names a binding that now calls another RPC', () => {
    const breaks = breaksAfter(
      ['option (google.api.http) = {delete: "/v1/{name=orders/*}"};', ''],
      ['{get: "/v1/{name=orders/*}"}', '{get: "/v1/{name=orders/*}" additional_bindings {delete: "/v1/{name=orders/*}"}}'],
    );
    assert.deepEqual(breaks, ['binding changed: DELETE /v1/{name=orders/*} now maps to binding.v1.OrderService/GetOrder instead of binding.v1.OrderService/DeleteOrder']);
  });

  it('names a changed body or response_body selector and a switch to streaming', () => {
    const breaks = breaksAfter(
      ['{patch: "/v1/{order.name=orders/*}" body: "order"}', '{patch: "/v1/{order.name=orders/*}" body: "*" response_body: "shelf"}'],
      ['rpc GetOrder(GetOrderRequest) returns (Order)', 'rpc GetOrder(GetOrderRequest) returns (stream Order)'],
    );
    assert.deepEqual(breaks.sort(), [
      'binding changed: GET /v1/{name=orders/*} (binding.v1.OrderService/GetOrder): now a server stream',
      'binding changed: PATCH /v1/{order.name=orders/*} (binding.v1.OrderService/UpdateOrder): body changed from "order" to "*"',
      'binding changed: PATCH /v1/{order.name=orders/*} (binding.v1.OrderService/UpdateOrder): response_body changed from none to "shelf"',
    ]);
  });

  it('names a field whose type changes in a message nested deep inside a served one, once', () => {
    // Money is reached through Shelf.budget, LineItem.price, Order.cash and a map's values.
    assert.deepEqual(breaksAfter(['  int64 units = 2;', '  string units = 2;']), ['field binding.v1.Money.units: type changed from int64 to string']);
  });

  it('names removed, renumbered and renamed-in-JSON fields, and a removed enum value', () => {
    const breaks = breaksAfter(
      ['  uint32 quantity = 3;\n', ''],
      ['  string genre = 2;', '  string genre = 12;'],
      ['  string external_ref = 22 [json_name = "extRef"];', '  string external_ref = 22;'],
      ['  GREEN = 2;\n', ''],
    );
    assert.deepEqual(breaks.sort(), [
      'enum value binding.v1.Color.GREEN: removed',
      'field binding.v1.LineItem.quantity: removed',
      'field binding.v1.Order.external_ref: JSON name changed from extRef to externalRef',
      'field binding.v1.Shelf.genre: number changed from 2 to 12',
    ]);
  });

  it('names changes between singular, repeated and map fields, and of enum, message and map value types', () => {
    const breaks = breaksAfter(
      ['  repeated string tags = 8;', '  string tags = 8;'],
      ['  map<string, string> labels = 10;', '  repeated string labels = 10;'],
      ['  map<int64, Money> prices_by_id = 11;', '  map<int64, LineItem> prices_by_id = 11;'],
      ['  Color color = 5;', '  int32 color = 5;'],
      ['    Money cash = 17;', '    LineItem cash = 17;'],
    );
    assert.deepEqual(breaks.sort(), [
      'field binding.v1.Order.cash: type changed from binding.v1.Money to binding.v1.LineItem',
      'field binding.v1.Order.color: type changed from binding.v1.Color to int32',
      'field binding.v1.Order.labels: type changed from map<string, string> to repeated string',
      'field binding.v1.Order.prices_by_id: type changed from map<int64, binding.v1.Money> to map<int64, binding.v1.LineItem>',
      'field binding.v1.Order.tags: type changed from repeated string to string',
    ]);
  });

  it('ignores proto3 optional coming and going', () => {
    assert.deepEqual(breaksAfter(['  optional int32 priority = 20;', '  int32 priority = 20;']), []);
  });

  it('ignores the messages of RPCs no binding exposes', () => {
    const unexposed = (type: string): [string, string] => ['service OrderService {\n', `message Note { ${type} text = 1; }\nservice OrderService {\n  rpc Annotate(Note) returns (Note);\n`];
    assert.deepEqual(breakingChanges(routesOf(unexposed('string')), routesOf(unexposed('int64'))), []);
  });
});

describe('breakingChanges over route modules', () => {
  const marketMonitor = (services: unknown[]): RouteSet => {
    const config = normaliseConfig({ protos: { includeDirs: [path.join(repoRoot, 'proto')] }, services }, { baseDir: repoRoot, env: {} });
    const live = new LiveRoutes(config, noMetrics, pino({ level: 'silent' }), boundedContexts);
    live.close();
    return live.current.routes;
  };

  it('names a route module route that is gone, by route and RPC (its public shape is not compared)', () => {
    const service = { name: 'market-monitor', protoFiles: ['market-monitor/v1/market_monitor.proto'], service: 'market_monitor.v1.MarketMonitorService', address: '127.0.0.1:1' };
    const breaks = breakingChanges(marketMonitor([service]), marketMonitor([]));
    assert.ok(breaks.includes('route module removed: GET /v1/tickers/{symbol} (market_monitor.v1.MarketMonitorService/GetQuote through route module market-monitor)'), breaks.join('\n'));
    assert.ok(breaks.some((line) => line.startsWith('binding removed: GET /v1/quotes/{symbol}')), breaks.join('\n'));
  });
});
