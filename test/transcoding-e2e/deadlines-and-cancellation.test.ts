import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { assertEnvelope, getJson, request, startStack, type Stack } from './harness.js';

/*
 * Deadlines and cancellation: the service's timeoutMs as the gRPC deadline, a client
 * grpc-timeout header that can only shorten it, 504 for a slow upstream, and a client that
 * hangs up cancelling the upstream call (unary and streaming).
 */

const timeoutMs = 1000;
let stack: Stack;
before(async () => {
  stack = await startStack({ timeoutMs });
});
after(async () => {
  await stack.close();
});

/** The deadline the upstream saw, in ms from the moment the call arrived. */
async function upstreamBudget(headers: Record<string, string> = {}): Promise<number> {
  const response = await getJson(stack, '/v1/sleep/0', { headers });
  return Number(response['deadlineRemainingMs']);
}

/** Starts a request, waits until the upstream has the call, hangs up, and returns when the socket closed. */
async function hangUpDuring(path: string, method: string, headers: http.OutgoingHttpHeaders = {}, afterFirstChunk = false, body?: string): Promise<number> {
  const before = stack.upstream.calls.length;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: stack.port, path, headers, method: body === undefined ? 'GET' : 'POST', agent: false });
    const hangUp = (): void => {
      const at = performance.now();
      req.destroy();
      resolve(at);
    };
    req.on('error', () => {});
    req.on('response', (res) => {
      if (!afterFirstChunk) return;
      res.once('data', hangUp);
    });
    req.end(body);
    if (!afterFirstChunk) {
      const poll = setInterval(() => {
        if (stack.upstream.calls.slice(before).some((c) => c.method === method)) {
          clearInterval(poll);
          setTimeout(hangUp, 50);
        }
      }, 5);
      setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`the upstream never received ${method}`));
      }, 2000).unref();
    }
  });
}

describe('deadlines', () => {
  it('gives each unary call the service timeoutMs as its deadline', async () => {
    const budget = await upstreamBudget();
    assert.ok(budget <= timeoutMs && budget > timeoutMs - 300, `upstream saw ${budget} ms`);
  });

  it('shortens the deadline to a client grpc-timeout header', async () => {
    const budget = await upstreamBudget({ 'grpc-timeout': '200m' });
    assert.ok(budget <= 200 && budget > 50, `upstream saw ${budget} ms`);
    const inSeconds = await upstreamBudget({ 'grpc-timeout': '1S' });
    assert.ok(inSeconds <= timeoutMs && inSeconds > timeoutMs - 300, `upstream saw ${inSeconds} ms`);
  });

  it('never lengthens the deadline beyond timeoutMs', async () => {
    for (const header of ['10S', '5M', '1H', '99999999m']) {
      const budget = await upstreamBudget({ 'grpc-timeout': header });
      assert.ok(budget <= timeoutMs, `${header}: upstream saw ${budget} ms`);
    }
  });

  it('answers 504 DEADLINE_EXCEEDED when the upstream is slower than timeoutMs', async () => {
    const started = performance.now();
    const response = await request(stack, '/v1/sleep/3000');
    const elapsed = performance.now() - started;
    assertEnvelope(response, 504, 'DEADLINE_EXCEEDED');
    assert.ok(elapsed >= timeoutMs - 50 && elapsed < timeoutMs + 700, `answered after ${Math.round(elapsed)} ms`);
  });

  it('answers 504 at the client grpc-timeout when it is shorter', async () => {
    const started = performance.now();
    const response = await request(stack, '/v1/sleep/3000', { headers: { 'grpc-timeout': '200m' } });
    const elapsed = performance.now() - started;
    assertEnvelope(response, 504, 'DEADLINE_EXCEEDED');
    assert.ok(elapsed >= 150 && elapsed < 800, `answered after ${Math.round(elapsed)} ms`);
  });

  it('keeps a call with a request body alive until it completes', async () => {
    const response = await getJson(stack, '/v1/sleep', { method: 'POST', body: { ms: 300 } });
    assert.deepEqual(response['sleptMs'], 300);
    assert.equal(stack.upstream.calls.at(-1)?.cancelledAt, undefined);
  });

  it('answers 400 for an invalid grpc-timeout header without calling the upstream', async () => {
    for (const header of ['abc', '1x', '123456789S', '-1S', '1.5S', '', '10 S']) {
      const calls = stack.upstream.calls.length;
      const envelope = assertEnvelope(await request(stack, '/v1/sleep/0', { headers: { 'grpc-timeout': header } }), 400, 'INVALID_ARGUMENT');
      assert.match(envelope.message, /grpc-timeout/, JSON.stringify(header));
      assert.equal(stack.upstream.calls.length, calls, JSON.stringify(header));
    }
  });
});

describe('cancellation', () => {
  // Deadline tests leave cancelled calls behind; each test looks only at its own.
  beforeEach(() => {
    stack.upstream.calls.length = 0;
  });

  it('cancels a unary upstream call within 500 ms of the client hanging up', async () => {
    const hungUpAt = await hangUpDuring('/v1/sleep/5000', 'Sleep');
    const call = await stack.upstream.cancellation('Sleep');
    const delay = call.cancelledAt! - hungUpAt;
    assert.ok(delay >= 0 && delay < 500, `upstream saw the cancellation after ${Math.round(delay)} ms`);
  });

  it('cancels a unary call with a request body within 500 ms of the client hanging up', async () => {
    const hungUpAt = await hangUpDuring('/v1/sleep', 'Sleep', { 'content-type': 'application/json' }, false, '{"ms":5000}');
    const call = await stack.upstream.cancellation('Sleep');
    const delay = call.cancelledAt! - hungUpAt;
    assert.ok(delay >= 0 && delay < 500, `upstream saw the cancellation after ${Math.round(delay)} ms`);
  });

  it('cancels an NDJSON stream upstream within 500 ms of the client hanging up', async () => {
    const hungUpAt = await hangUpDuring('/v1/stream?count=1000&interval_ms=100', 'StreamItems', {}, true);
    const call = await stack.upstream.cancellation('StreamItems');
    const delay = call.cancelledAt! - hungUpAt;
    assert.ok(delay >= 0 && delay < 500, `upstream saw the cancellation after ${Math.round(delay)} ms`);
  });

  it('cancels a stream upstream within 500 ms when the client hangs up before the first message', async () => {
    const hungUpAt = await hangUpDuring('/v1/stream?count=2&first_delay_ms=5000', 'StreamItems');
    const call = await stack.upstream.cancellation('StreamItems');
    const delay = call.cancelledAt! - hungUpAt;
    assert.ok(delay >= 0 && delay < 500, `upstream saw the cancellation after ${Math.round(delay)} ms`);
  });

  it('cancels an SSE stream upstream within 500 ms of the client hanging up', async () => {
    const hungUpAt = await hangUpDuring('/v1/stream?count=1000&interval_ms=100', 'StreamItems', { accept: 'text/event-stream' }, true);
    const call = await stack.upstream.cancellation('StreamItems');
    const delay = call.cancelledAt! - hungUpAt;
    assert.ok(delay >= 0 && delay < 500, `upstream saw the cancellation after ${Math.round(delay)} ms`);
  });
});
