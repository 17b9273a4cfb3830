import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { assertEnvelope, rawRequest, request, startStack, type Stack } from './harness.js';

/*
 * Server-streaming RPCs: NDJSON by default, SSE on request, flushed per message; errors before
 * the first message as ordinary responses and after it as a last frame; stream deadlines; and
 * client-/bidi-streaming RPCs left unexposed with a start-up log line each.
 */

const timeoutMs = 300;
const streamTimeoutMs = 900;
let stack: Stack;
before(async () => {
  // A short SSE heartbeat so the test can watch it (15 s by default).
  stack = await startStack({ timeoutMs, streamTimeoutMs }, { server: { sseHeartbeatMs: 100 } });
});
after(async () => {
  await stack.close();
});

const big = (index: number): string => String(2n ** 60n + BigInt(index));

interface TimedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Each chunk as it arrived, with performance.now() at arrival. */
  chunks: { at: number; text: string }[];
  endedAt: number;
  body: string;
}

function timedGet(path: string, headers: http.OutgoingHttpHeaders = {}): Promise<TimedResponse> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: stack.port, path, headers, agent: false }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.setEncoding('utf8');
      res.on('data', (text: string) => chunks.push({ at: performance.now(), text }));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, endedAt: performance.now(), body: chunks.map((c) => c.text).join('') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function ndjsonLines(body: string): unknown[] {
  assert.ok(body.endsWith('\n'), 'every NDJSON line ends with a newline');
  return body
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

/** SSE events as [event name, parsed data]. */
function sseEvents(body: string): [string, unknown][] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice('event: '.length) ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice('data: '.length))
        .join('\n');
      return [event, JSON.parse(data) as unknown];
    });
}

describe('NDJSON', () => {
  it('answers application/x-ndjson by default, one bare proto3 JSON message per line', async () => {
    const response = await timedGet('/v1/stream?count=3&text=hi');
    assert.equal(response.status, 200);
    assert.match(response.headers['content-type'] ?? '', /^application\/x-ndjson(;|$)/);
    assert.deepEqual(ndjsonLines(response.body), [
      { index: 0, big: big(0), text: 'hi', kind: 'KIND_ALPHA' },
      { index: 1, big: big(1), text: 'hi', kind: 'KIND_ALPHA' },
      { index: 2, big: big(2), text: 'hi', kind: 'KIND_ALPHA' },
    ]);
  });

  it('flushes each message as it arrives: the first line comes before the stream ends', async () => {
    const response = await timedGet('/v1/stream?count=2&interval_ms=300&text=f');
    assert.equal(response.status, 200);
    const first = response.chunks[0]!;
    assert.deepEqual(JSON.parse(first.text), { index: 0, big: big(0), text: 'f', kind: 'KIND_ALPHA' });
    assert.ok(response.endedAt - first.at >= 200, `first line only ${Math.round(response.endedAt - first.at)} ms before the end`);
    assert.equal(ndjsonLines(response.body).length, 2);
  });

  it('answers an empty stream with 200 and no lines', async () => {
    const response = await timedGet('/v1/stream?count=0');
    assert.equal(response.status, 200);
    assert.equal(response.body, '');
  });

  it('answers an error before the first message as an ordinary error response', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/stream?count=0&fail_code=5&fail_message=no+such+feed'), 404, 'NOT_FOUND');
    assert.equal(envelope.message, 'no such feed');
  });

  it('ends with a line holding the envelope when the upstream fails after the first message', async () => {
    const response = await timedGet('/v1/stream?count=2&fail_code=8&fail_message=quota+used&text=e', { 'x-request-id': 'stream-err-1' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-request-id'], 'stream-err-1');
    assert.deepEqual(ndjsonLines(response.body), [
      { index: 0, big: big(0), text: 'e', kind: 'KIND_ALPHA' },
      { index: 1, big: big(1), text: 'e', kind: 'KIND_ALPHA' },
      { error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota used', requestId: 'stream-err-1', details: [] } },
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const access = stack.gateway.logs.find((l) => l['requestId'] === 'stream-err-1' && l['msg'] === 'request completed');
    assert.equal(access?.['upstreamCode'], 'RESOURCE_EXHAUSTED');
    assert.equal(access?.['route'], '/v1/stream');
  });

  it('ends with an INTERNAL line when a message cannot be written as JSON, and goes on serving', async () => {
    const response = await timedGet('/v1/stream?count=2&unwritable_last=true');
    assert.equal(response.status, 200);
    const lines = ndjsonLines(response.body);
    assert.deepEqual(
      lines.slice(0, 2).map((l) => (l as { index: number }).index),
      [0, 1],
    );
    assert.equal(lines.length, 3);
    const last = lines[2] as { error: { code: number; status: string; message: string } };
    assert.equal(last.error.code, 500);
    assert.equal(last.error.status, 'INTERNAL');
    assert.doesNotMatch(last.error.message, /Timestamp|9999/, "the JSON writer's words stay in the log");
    assert.equal((await request(stack, '/v1/items/after-the-bad-stream')).status, 200);
  });

  it('hides the message of an INTERNAL error after the first message', async () => {
    const response = await timedGet('/v1/stream?count=1&fail_code=13&fail_message=stack+trace+here');
    const lines = ndjsonLines(response.body);
    assert.deepEqual(lines.at(-1), {
      error: { code: 500, status: 'INTERNAL', message: 'internal error', requestId: response.headers['x-request-id'], details: [] },
    });
  });
});

describe('Server-Sent Events', () => {
  it('answers text/event-stream with data events and X-Accel-Buffering: no when the client accepts it', async () => {
    const response = await timedGet('/v1/stream?count=2&text=s', { accept: 'text/event-stream' });
    assert.equal(response.status, 200);
    assert.match(response.headers['content-type'] ?? '', /^text\/event-stream(;|$)/);
    assert.equal(response.headers['x-accel-buffering'], 'no');
    assert.match(response.body, /^data: \{"index":0,/);
    assert.deepEqual(sseEvents(response.body), [
      ['message', { index: 0, big: big(0), text: 's', kind: 'KIND_ALPHA' }],
      ['message', { index: 1, big: big(1), text: 's', kind: 'KIND_ALPHA' }],
    ]);
  });

  it('flushes each event as it arrives', async () => {
    const response = await timedGet('/v1/stream?count=2&interval_ms=300', { accept: 'text/event-stream' });
    const first = response.chunks[0]!;
    assert.match(first.text, /^data: \{"index":0,/);
    assert.ok(response.endedAt - first.at >= 200, `first event only ${Math.round(response.endedAt - first.at)} ms before the end`);
  });

  it('sends heartbeat comments while the upstream is quiet, and only between events', async () => {
    const response = await timedGet('/v1/stream?count=2&interval_ms=450', { accept: 'text/event-stream' });
    const heartbeats = response.body.split('\n\n').filter((block) => block === ': heartbeat');
    assert.ok(heartbeats.length >= 2, `expected heartbeats during a 450 ms pause, got ${heartbeats.length}`);
    assert.equal(sseEvents(response.body).length, 2);
  });

  it('ends with an "error" event holding the envelope when the upstream fails after the first message', async () => {
    const response = await timedGet('/v1/stream?count=1&fail_code=14&fail_message=draining', { accept: 'text/event-stream' });
    assert.equal(response.status, 200);
    const events = sseEvents(response.body);
    assert.equal(events.length, 2);
    assert.deepEqual(events[1], [
      'error',
      // UNAVAILABLE is told in the gateway's words: the upstream's "draining" stays in the log.
      { error: { code: 503, status: 'UNAVAILABLE', message: 'the upstream service is unavailable', requestId: response.headers['x-request-id'], details: [] } },
    ]);
  });

  it('answers an error before the first message as an ordinary error response', async () => {
    const response = await request(stack, '/v1/stream?count=0&fail_code=7&fail_message=not+yours', { headers: { accept: 'text/event-stream' } });
    const envelope = assertEnvelope(response, 403, 'PERMISSION_DENIED');
    assert.equal(envelope.message, 'not yours');
  });
});

describe('stream deadlines', () => {
  it('does not cut a stream at the unary timeoutMs', async () => {
    const started = performance.now();
    const response = await timedGet('/v1/stream?count=3&interval_ms=250');
    assert.ok(response.endedAt - started >= 2 * 250, 'the stream outlived timeoutMs');
    assert.deepEqual(
      ndjsonLines(response.body).map((l) => (l as { index: number }).index),
      [0, 1, 2],
    );
  });

  it('answers 504 DEADLINE_EXCEEDED when streamTimeoutMs passes before the first message', async () => {
    const started = performance.now();
    const response = await request(stack, '/v1/stream?count=1&first_delay_ms=3000');
    const elapsed = performance.now() - started;
    assertEnvelope(response, 504, 'DEADLINE_EXCEEDED');
    assert.ok(elapsed >= streamTimeoutMs - 50 && elapsed < streamTimeoutMs + 600, `answered after ${Math.round(elapsed)} ms`);
  });

  it('cuts a stream at streamTimeoutMs with a DEADLINE_EXCEEDED last line', async () => {
    const started = performance.now();
    const response = await timedGet('/v1/stream?count=20&interval_ms=250');
    const elapsed = response.endedAt - started;
    const lines = ndjsonLines(response.body);
    assert.ok(lines.length >= 2 && lines.length <= 6, `${lines.length} lines`);
    const last = lines.at(-1) as { error: { code: number; status: string } };
    assert.equal(last.error.code, 504);
    assert.equal(last.error.status, 'DEADLINE_EXCEEDED');
    assert.ok(elapsed >= streamTimeoutMs - 50 && elapsed < streamTimeoutMs + 600, `cut after ${Math.round(elapsed)} ms`);
  });
});

describe('a client that reads slowly', () => {
  // Its own stack: the shared one cuts streams at 900 ms.
  let slowStack: Stack;
  before(async () => {
    slowStack = await startStack({ streamTimeoutMs: 60_000 });
  });
  after(async () => {
    await slowStack.close();
  });

  it('holds the upstream back while the client reads nothing, then delivers every message', async () => {
    // ~2 KiB per line, 40 MiB in all: far more than the socket, HTTP/2 and stream buffers hold.
    const count = 20_000;
    const text = 'x'.repeat(2000);
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: slowStack.port, path: `/v1/stream?count=${count}&text=${text}`, agent: false }, resolve).on('error', reject);
    });
    try {
      response.pause();
      assert.equal(response.statusCode, 200);
      const call = slowStack.upstream.calls.find((c) => c.method === 'StreamItems');
      assert.ok(call, 'the upstream got the call');
      // The upstream writes until the buffers between it and the unread socket are full, then waits.
      let sent = -1;
      for (let waited = 0; call.sent !== sent && waited < 20_000; waited += 500) {
        sent = call.sent;
        await sleep(500);
      }
      assert.ok(call.sent < count / 2, `the upstream stopped at ${call.sent} of ${count} messages while nothing was read`);
      assert.equal(call.finished, false);

      response.setEncoding('utf8');
      let lines = 0;
      let partial = '';
      for await (const chunk of response as AsyncIterable<string>) {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        lines += parts.length;
      }
      assert.equal(lines, count);
      assert.equal(partial, '', 'the stream ends with a whole line');
      assert.equal(call.finished, true);
    } finally {
      response.destroy();
    }
  });
});

describe('client- and bidi-streaming RPCs', () => {
  it('are not exposed, and start-up logs one line for each naming it and the reason', async () => {
    const lines = stack.gateway.logs.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('is not exposed'));
    assert.deepEqual(
      lines.map((l) => [l['rpc'], l['reason']]),
      [
        ['acceptance.v1.EchoService.Upload', 'client-streaming RPCs are not exposed over HTTP/JSON'],
        ['acceptance.v1.EchoService.Chat', 'bidi-streaming RPCs are not exposed over HTTP/JSON'],
      ],
    );
    for (const line of lines) assert.match(line['msg'] as string, new RegExp(`${String(line['rpc']).replaceAll('.', '\\.')} is not exposed: .*streaming`));
    for (const path of ['/v1/upload', '/v1/chat']) {
      const response = await rawRequest(stack, { method: 'POST', path, headers: { 'content-type': 'application/json' }, chunks: ['{}'] });
      assert.equal(response.status, 404, path);
    }
  });
});
