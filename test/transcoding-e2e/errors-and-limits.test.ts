import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import {
  assertEnvelope,
  echoService,
  fieldViolations,
  getJson,
  rawRequest,
  request,
  stackConfig,
  startStack,
  type HttpResult,
  type RawResponse,
  type Stack,
} from './harness.js';

/*
 * Input rules, limits and the error envelope: unknown fields and parameters, fields bound
 * twice, content types, body and header limits, X-Request-ID, and the gRPC → HTTP table for
 * upstream errors.
 */

const bodyLimit = 2048;
let stack: Stack;
/** The same upstream behind a gateway with allowUnknownFields: true. */
let lenient: RunningGateway;

before(async () => {
  stack = await startStack({}, { server: { bodyLimit } });
  lenient = await startGateway(stackConfig([echoService(stack.upstream.address, { allowUnknownFields: true })]));
});
after(async () => {
  await lenient.close();
  await stack.close();
});

/** The envelope of a raw node:http response, checked like assertEnvelope does. */
function assertRawEnvelope(response: RawResponse, httpStatus: number, grpcStatus: string): { requestId: string; message: string } {
  const asResult: HttpResult = {
    status: response.status,
    headers: new Headers(Object.entries(response.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])) as [string, string][]),
    text: response.body,
    json: JSON.parse(response.body) as unknown,
  };
  return assertEnvelope(asResult, httpStatus, grpcStatus);
}

describe('unknown fields and parameters', () => {
  it('answers 400 naming every unknown JSON field, nested ones by their JSON path', async () => {
    const envelope = assertEnvelope(
      await request(stack, '/v1/items/u', { method: 'PUT', body: { title: 't', bogus: 1, inner: { leaf: 'x', alsoBogus: true } } }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.deepEqual(fieldViolations(envelope), [
      { field: 'bogus', description: 'unknown field' },
      { field: 'inner.alsoBogus', description: 'unknown field' },
    ]);
    assert.match(envelope.message, /bogus/);
  });

  it('answers 400 naming every unknown query parameter', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/u?nope=1&inner.nada=2&title=ok'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [
      { field: 'nope', description: 'unknown query parameter' },
      { field: 'inner.nada', description: 'unknown query parameter' },
    ]);
  });

  it('ignores unknown JSON fields and query parameters when the service sets allowUnknownFields', async () => {
    const fromBody = await getJson(lenient, '/v1/items/u', { method: 'PUT', body: { title: 't', bogus: 1, inner: { leaf: 'x', alsoBogus: true } } });
    assert.equal(fromBody['title'], 't');
    assert.deepEqual(fromBody['inner'], { leaf: 'x', notes: [] });
    assert.ok(!('bogus' in fromBody));
    const fromQuery = await getJson(lenient, '/v1/items/u?nope=1&inner.nada=2&title=ok');
    assert.equal(fromQuery['title'], 'ok');
    assert.ok(!('nope' in fromQuery));
  });

  it('answers 400 naming each query parameter that cannot set its field', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/u?title=a&title=b&inner=x&kind_by_rank[x]=1&items.leaf=y'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(
      fieldViolations(envelope).map((v) => v.field),
      ['title', 'inner', 'kindByRank["x"]', 'items'],
    );
  });

  it('answers 400 for a query parameter naming a field the path binds', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/from-path?id=from-query'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [{ field: 'id', description: 'field is bound by the path' }]);
    const nested = assertEnvelope(await request(stack, '/v1/shelves/s1/items/i1?inner.deep.value=x'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(nested), [{ field: 'inner.deep.value', description: 'field is bound by the path' }]);
  });

  it('answers 400 for a query parameter naming the body field or inside it', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items?inner.leaf=x', { method: 'POST', body: { leaf: 'y' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [{ field: 'inner', description: 'field is bound by the body' }]);
  });

  it('answers 400 for any query parameter when the body is "*"', async () => {
    for (const query of ['title=x', 'tags=a', 'unknown=1']) {
      const envelope = assertEnvelope(await request(stack, `/v1/items/star?${query}`, { method: 'PUT', body: {} }), 400, 'INVALID_ARGUMENT');
      assert.equal(fieldViolations(envelope).length, 1, query);
    }
  });

  it('answers 400 when the path and the body both set a field', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/from-path', { method: 'PUT', body: { id: 'from-body' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [{ field: 'id', description: 'field is set by both the path and the body' }]);
  });
});

describe('content types', () => {
  it('answers success with application/json; charset=utf-8', async () => {
    const response = await request(stack, '/v1/items/ct');
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
  });

  it('accepts application/json with a charset parameter and +json media types', async () => {
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', 'application/merge-patch+json', 'application/vnd.acme.item+json; charset=utf-8']) {
      const echoed = await getJson(stack, '/v1/items/ct', { method: 'PUT', headers: { 'content-type': contentType }, body: '{"title":"ok"}' });
      assert.equal(echoed['title'], 'ok', contentType);
    }
  });

  it('answers 415 for a body of another content type', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonl', 'multipart/form-data; boundary=x']) {
      const response = await request(stack, '/v1/items/ct', { method: 'PUT', headers: { 'content-type': contentType }, body: '{"title":"ok"}' });
      assertEnvelope(response, 415, 'INVALID_ARGUMENT');
    }
  });

  it('answers 415 for a body-carrying binding called without a content type, with or without a body', async () => {
    const withBody = await rawRequest(stack, { method: 'PUT', path: '/v1/items/ct', headers: { 'content-length': '14' }, chunks: ['{"title":"ok"}'] });
    assertRawEnvelope(withBody, 415, 'INVALID_ARGUMENT');
    const withoutBody = await rawRequest(stack, { method: 'POST', path: '/v1/items', headers: { 'content-length': '0' } });
    assertRawEnvelope(withoutBody, 415, 'INVALID_ARGUMENT');
  });

  it('answers 400 for malformed JSON without echoing it', async () => {
    const response = await request(stack, '/v1/items/ct', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"title": secret-token' });
    const envelope = assertEnvelope(response, 400, 'INVALID_ARGUMENT');
    assert.match(envelope.message, /not valid JSON/);
    assert.doesNotMatch(envelope.message, /secret-token/);
  });

  it('answers 400 when the body is JSON but not an object', async () => {
    const response = await request(stack, '/v1/items/ct', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[1,2]' });
    assertEnvelope(response, 400, 'INVALID_ARGUMENT');
  });
});

describe('size limits', () => {
  const bigBody = JSON.stringify({ title: 'x'.repeat(bodyLimit) });

  it('answers 413 for a body over server.bodyLimit sent with Content-Length', async () => {
    const response = await rawRequest(stack, {
      method: 'PUT',
      path: '/v1/items/big',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(bigBody)) },
      chunks: [bigBody],
    });
    assert.equal(response.headers['transfer-encoding'], undefined);
    assertRawEnvelope(response, 413, 'RESOURCE_EXHAUSTED');
  });

  it('answers 413 for a chunked body over server.bodyLimit', async () => {
    const half = Math.ceil(bigBody.length / 2);
    const response = await rawRequest(stack, {
      method: 'PUT',
      path: '/v1/items/big',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: [bigBody.slice(0, half), bigBody.slice(half)],
    });
    assertRawEnvelope(response, 413, 'RESOURCE_EXHAUSTED');
  });

  it('accepts a chunked body under the limit', async () => {
    const response = await rawRequest(stack, {
      method: 'PUT',
      path: '/v1/items/chunked',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      chunks: ['{"title":', '"in chunks"}'],
    });
    assert.equal(response.status, 200, response.body);
    assert.equal((JSON.parse(response.body) as Record<string, unknown>)['title'], 'in chunks');
  });

  it('accepts a body just under the limit', async () => {
    const body = JSON.stringify({ title: 'y'.repeat(bodyLimit - 20) });
    assert.ok(Buffer.byteLength(body) <= bodyLimit);
    const echoed = await getJson(stack, '/v1/items/big', { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
    assert.equal((echoed['title'] as string).length, bodyLimit - 20);
  });

  it('answers 431 with the envelope and a request id for request headers over 16 KiB', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(stack.port, '127.0.0.1', () => {
        socket.write(`GET /v1/items/h HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: kept-or-not\r\nX-Padding: ${'p'.repeat(17 * 1024)}\r\n\r\n`);
      });
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = raw.split('\r\n\r\n');
    const [statusLine, ...headerLines] = head.split('\r\n');
    assert.match(statusLine ?? '', /^HTTP\/1\.1 431 /);
    const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    assertRawEnvelope({ status: 431, headers, body }, 431, 'RESOURCE_EXHAUSTED');
  });

  it('serves requests whose headers stay under 16 KiB', async () => {
    const echoed = await getJson(stack, '/v1/items/h', { headers: { 'x-padding': 'p'.repeat(12 * 1024) } });
    assert.equal(echoed['id'], 'h');
  });
});

describe('X-Request-ID', () => {
  it('keeps a client id of 1-128 characters of [A-Za-z0-9._:-], echoes it and forwards it upstream', async () => {
    for (const id of ['a', 'req_1.A:b-c', 'x'.repeat(128)]) {
      const response = await request(stack, '/v1/items/rid', { headers: { 'x-request-id': id } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-request-id'), id);
      assert.deepEqual(stack.upstream.calls.at(-1)?.metadata.get('x-request-id'), [id]);
    }
  });

  it('replaces an unacceptable id instead of rejecting the request', async () => {
    for (const id of ['x'.repeat(129), 'has space', 'semi;colon', 'slash/no', 'ü', 'a,b']) {
      const response = await request(stack, '/v1/items/rid', { headers: { 'x-request-id': id } });
      assert.equal(response.status, 200, id);
      const echoed = response.headers.get('x-request-id');
      assert.ok(echoed && echoed !== id && /^[A-Za-z0-9._:-]{1,128}$/.test(echoed), `${id} → ${echoed}`);
    }
  });

  it('generates an id when none is sent and uses it in the envelope', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/nowhere'), 404, 'NOT_FOUND');
    assert.match(envelope.requestId, /^[A-Za-z0-9._:-]{1,128}$/);
  });

  it('echoes the client id on gateway errors: 400, 404, 405, 413 and 415', async () => {
    const id = 'err-trace-1';
    const headers = { 'x-request-id': id };
    const cases: [Promise<HttpResult>, number][] = [
      [request(stack, '/v1/items/x?bogus=1', { headers }), 400],
      [request(stack, '/v1/items/%ZZ', { headers }), 400],
      [request(stack, '/v1/nowhere', { headers }), 404],
      [request(stack, '/v1/items/x', { method: 'POST', headers, body: {} }), 405],
      [request(stack, '/v1/items/x', { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'z'.repeat(bodyLimit) }) }), 413],
      [request(stack, '/v1/items/x', { method: 'PUT', headers: { ...headers, 'content-type': 'text/plain' }, body: '{}' }), 415],
    ];
    for (const [pending, status] of cases) {
      const response = await pending;
      assert.equal(response.status, status, response.text);
      assert.equal(response.headers.get('x-request-id'), id, String(status));
      assert.equal((response.json as { error: { requestId: string } }).error.requestId, id, String(status));
    }
  });
});

describe('upstream errors', () => {
  const table: [code: number, http: number, status: string][] = [
    [1, 499, 'CANCELLED'],
    [2, 500, 'UNKNOWN'],
    [3, 400, 'INVALID_ARGUMENT'],
    [4, 504, 'DEADLINE_EXCEEDED'],
    [5, 404, 'NOT_FOUND'],
    [6, 409, 'ALREADY_EXISTS'],
    [7, 403, 'PERMISSION_DENIED'],
    [8, 429, 'RESOURCE_EXHAUSTED'],
    [9, 400, 'FAILED_PRECONDITION'],
    [10, 409, 'ABORTED'],
    [11, 400, 'OUT_OF_RANGE'],
    [12, 501, 'UNIMPLEMENTED'],
    [13, 500, 'INTERNAL'],
    [14, 503, 'UNAVAILABLE'],
    [15, 500, 'DATA_LOSS'],
    [16, 401, 'UNAUTHENTICATED'],
  ];

  /** Codes whose upstream message the client never reads: the gateway's words instead. */
  const gatewayMessages: Record<string, string> = {
    UNKNOWN: 'internal error',
    INTERNAL: 'internal error',
    DATA_LOSS: 'internal error',
    DEADLINE_EXCEEDED: 'the upstream service did not answer in time',
    UNIMPLEMENTED: 'the upstream service does not implement this method',
    UNAVAILABLE: 'the upstream service is unavailable',
  };

  it('maps every gRPC code to its HTTP status in the envelope', async () => {
    for (const [code, http, status] of table) {
      const envelope = assertEnvelope(await request(stack, `/v1/fail/${code}?message=upstream+says+${code}`), http, status);
      assert.equal(envelope.message, gatewayMessages[status] ?? `upstream says ${code}`, status);
    }
  });

  it('passes google.rpc details from grpc-status-details-bin as proto3 JSON with "@type"', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/fail/9?message=stock+low&with_details=true'), 400, 'FAILED_PRECONDITION');
    assert.deepEqual(envelope.details, [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'STOCK_LOW', domain: 'acceptance.test', metadata: { sku: 'A-1' } },
    ]);
  });

  it('never passes the details of an INTERNAL error', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/fail/13?message=db+password+wrong&with_details=true'), 500, 'INTERNAL');
    assert.deepEqual(envelope.details, []);
    assert.equal(envelope.message, 'internal error');
  });

  it('answers 503 UNAVAILABLE when the upstream cannot be reached', async () => {
    const unreachable = await startGateway(stackConfig([echoService('127.0.0.1:1', { timeoutMs: 1500 })]));
    try {
      assertEnvelope(await request(unreachable, '/v1/items/x'), 503, 'UNAVAILABLE');
    } finally {
      await unreachable.close();
    }
  });
});
