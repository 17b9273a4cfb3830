import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { applyConnectionTimeouts } from '../../src/lifecycle/connection-timeouts.js';
import { RawClient } from '../support/raw-socket.js';
import { getJson, startStack, type Stack } from '../transcoding-e2e/harness.js';

/*
 * Slowloris: connections that hold a socket open by sending their headers a byte at a time.
 * server.headersTimeoutMs closes them while other clients are served. Timings are reported
 * (t.diagnostic), not asserted: the machine running the tests is shared; only generous bounds
 * are checked.
 */

const slowRequest = 'GET /v1/items/slow HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: slowloris\r\n\r\n';
const mib = 1024 * 1024;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('slowloris', () => {
  const headersTimeoutMs = 2000;
  let stack: Stack;
  before(async () => {
    stack = await startStack({}, { server: { headersTimeoutMs, requestTimeoutMs: 5000 } });
  });
  after(async () => {
    await stack.close();
  });

  it('closes 200 connections sending a header byte a second after headersTimeoutMs, while other requests are served', async (t) => {
    await getJson(stack, '/v1/items/warm-up');
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const slow = Array.from({ length: 200 }, () => new RawClient(stack.port));
    const closedAfterMs: number[] = [];
    const trickling = slow.map((client) => client.trickle(slowRequest, 1000));
    const closing = slow.map(async (client) => {
      await client.closedWithin(15_000);
      closedAfterMs.push(performance.now() - started);
    });

    // Normal clients, ten at a time, for as long as the slow connections are open and a bit more.
    const latencies: number[] = [];
    const statuses: number[] = [];
    while (performance.now() - started < headersTimeoutMs + 2000) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const sent = performance.now();
          const response = await fetch(`${stack.url}/v1/items/normal-${i}`);
          await response.arrayBuffer();
          latencies.push(performance.now() - sent);
          statuses.push(response.status);
        }),
      );
    }
    try {
      await Promise.all(closing);
    } finally {
      for (const client of slow) client.destroy();
    }
    await Promise.all(trickling);
    const rssAfter = process.memoryUsage().rss;

    latencies.sort((a, b) => a - b);
    closedAfterMs.sort((a, b) => a - b);
    t.diagnostic(
      `normal requests: ${latencies.length}, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    );
    t.diagnostic(`slow connections closed after ${closedAfterMs[0]!.toFixed(0)}-${closedAfterMs.at(-1)!.toFixed(0)} ms (headersTimeoutMs ${headersTimeoutMs})`);
    t.diagnostic(`RSS before ${(rssBefore / mib).toFixed(1)} MiB, after ${(rssAfter / mib).toFixed(1)} MiB`);

    assert.ok(statuses.every((s) => s === 200), `every normal request succeeded: ${statuses.filter((s) => s !== 200).join(', ')}`);
    assert.equal(closedAfterMs.length, 200, 'every slow connection was closed');
    for (const client of slow) {
      assert.ok(client.responses.every((r) => r.status === 408), 'a slow connection gets a 408 at most');
      assert.ok(client.received.length < 1000, 'and nothing more');
    }
    assert.ok(rssAfter - rssBefore < 256 * mib, `RSS grew by ${((rssAfter - rssBefore) / mib).toFixed(1)} MiB`);
  });
});

describe('applyConnectionTimeouts', () => {
  let stack: Stack;
  before(async () => {
    // The production defaults: 10 s for the headers, 30 s for the request, 65 s idle.
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  it("changes a running server's timeouts", () => {
    const server = stack.gateway.gateway.app.server;
    assert.deepEqual([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout], [10_000, 30_000, 65_000]);
    applyConnectionTimeouts(server, { headersTimeoutMs: 7000, requestTimeoutMs: 20_000, keepAliveTimeoutMs: 61_000 });
    assert.deepEqual([server.headersTimeout, server.requestTimeout, server.keepAliveTimeout], [7000, 20_000, 61_000]);
  });

  it('closes a connection already open once a shorter headers timeout is applied', async () => {
    const client = new RawClient(stack.port);
    try {
      // 50 bytes at 200 ms each: 10 s of trickling, longer than the bound below.
      const trickling = client.trickle(slowRequest, 200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      applyConnectionTimeouts(stack.gateway.gateway.app.server, { headersTimeoutMs: 500, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000 });
      // Under the 7 s of the previous test's timeout, let alone the 10 s default.
      await client.closedWithin(5000);
      await trickling;
      assert.deepEqual(
        client.responses.map((r) => r.status),
        [408],
      );
    } finally {
      client.destroy();
    }
  });

  it('closes an idle keep-alive connection after a shorter keep-alive timeout applied before its response', async () => {
    applyConnectionTimeouts(stack.gateway.gateway.app.server, { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 300 });
    const client = new RawClient(stack.port);
    try {
      client.write('GET /v1/items/kept-alive HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
      await client.closedWithin(5000);
      assert.deepEqual(
        client.responses.map((r) => r.status),
        [200],
      );
    } finally {
      client.destroy();
    }
  });
});
