import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/app.js';
import { assertEnvelope, echoService, fieldViolations, getJson, rawRequest, request, stackConfig, startStack, type Stack } from './harness.js';

/*
 * google.api.http bindings of acceptance.v1.EchoService over real sockets: every HttpRule form,
 * path templates, query parameters, response_body, percent-decoding, HEAD/404/405, conflicts
 * and the metrics route label. The upstream echoes the request, so a response is what was bound.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

describe('HttpRule methods and bodies', () => {
  it('binds a GET {field} variable from the path', async () => {
    const echoed = await getJson(stack, '/v1/items/item-1');
    assert.equal(echoed['id'], 'item-1');
  });

  it('serves additional_bindings: a nested {a.b.c} variable next to a plain one', async () => {
    const echoed = await getJson(stack, '/v1/shelves/shelf-7/items/item-2');
    assert.equal(echoed['id'], 'item-2');
    assert.deepEqual(echoed['inner'], { leaf: '', deep: { value: 'shelf-7', count: '0' }, notes: [] });
  });

  it('serves additional_bindings: a {field=prefix/*/...} variable takes the whole matched text', async () => {
    const echoed = await getJson(stack, '/v1/projects/p1/items/i9');
    assert.equal(echoed['name'], 'projects/p1/items/i9');
    assert.equal((await request(stack, '/v1/projects/p1/things/i9')).status, 404);
    assert.equal((await request(stack, '/v1/projects/p1/items')).status, 404);
  });

  it('binds a PUT with body "*": the JSON body is the whole message and the path fills its variable', async () => {
    const echoed = await getJson(stack, '/v1/items/put-1', {
      method: 'PUT',
      body: { title: 'Replaced', tags: ['x'], inner: { leaf: 'L' } },
    });
    assert.equal(echoed['id'], 'put-1');
    assert.equal(echoed['title'], 'Replaced');
    assert.deepEqual(echoed['tags'], ['x']);
    assert.deepEqual(echoed['inner'], { leaf: 'L', notes: [] });
  });

  it('binds a POST with body "field": the body fills that field and the query the others', async () => {
    const echoed = await getJson(stack, '/v1/items?id=new-1&tags=a&tags=b', {
      method: 'POST',
      body: { leaf: 'from-body', deep: { value: 'v', count: 3 }, notes: ['n'] },
    });
    assert.equal(echoed['id'], 'new-1');
    assert.deepEqual(echoed['tags'], ['a', 'b']);
    assert.deepEqual(echoed['inner'], { leaf: 'from-body', deep: { value: 'v', count: '3' }, notes: ['n'] });
  });

  it('binds a DELETE without a body from the path and the query', async () => {
    const echoed = await getJson(stack, '/v1/items/del-1?title=bye', { method: 'DELETE' });
    assert.equal(echoed['id'], 'del-1');
    assert.equal(echoed['title'], 'bye');
  });

  it('binds a PATCH with body "field" next to a path variable', async () => {
    const echoed = await getJson(stack, '/v1/items/patch-1?maybe=m', { method: 'PATCH', body: { leaf: 'patched' } });
    assert.equal(echoed['id'], 'patch-1');
    assert.equal(echoed['maybe'], 'm');
    assert.deepEqual(echoed['inner'], { leaf: 'patched', notes: [] });
  });

  it('serves a custom HTTP method (custom kind "PURGE")', async () => {
    const echoed = await getJson(stack, '/v1/items/cached-1/cache', { method: 'PURGE' });
    assert.equal(echoed['id'], 'cached-1');
  });

  it('serves a custom verb (/v1/{name=ops/*}:cancel) and only that verb', async () => {
    const echoed = await getJson(stack, '/v1/ops/op-42:cancel', { method: 'POST', body: { title: 'stop' } });
    assert.equal(echoed['name'], 'ops/op-42');
    assert.equal(echoed['title'], 'stop');
    assert.equal((await request(stack, '/v1/ops/op-42:pause', { method: 'POST', body: {} })).status, 404);
    assert.equal((await request(stack, '/v1/ops/op-42', { method: 'POST', body: {} })).status, 404);
  });
});

describe('path templates', () => {
  it('matches {path=**} with several segments, one segment and zero segments', async () => {
    assert.equal((await getJson(stack, '/v1/files/a/b/c.txt'))['path'], 'a/b/c.txt');
    assert.equal((await getJson(stack, '/v1/files/readme'))['path'], 'readme');
    assert.equal((await getJson(stack, '/v1/files'))['path'], '');
  });

  it('matches bare "*" and "**" wildcards without binding anything', async () => {
    const short = await getJson(stack, '/v1/any/x/tail');
    const long = await getJson(stack, '/v1/any/x/tail/a/b/c');
    assert.equal(short['id'], '');
    assert.equal(long['path'], '');
    assert.equal((await request(stack, '/v1/any/tail')).status, 404);
    assert.equal((await request(stack, '/v1/any/x/y/tail')).status, 404);
  });

  it('decodes %2F in a single-segment variable but keeps it in a multi-segment one', async () => {
    assert.equal((await getJson(stack, '/v1/items/a%2Fb%20c'))['id'], 'a/b c');
    assert.equal((await getJson(stack, '/v1/files/dir%2Fname/x%20y'))['path'], 'dir%2Fname/x y');
  });

  it('takes a colon inside a segment as data and only a last ":verb" as a verb', async () => {
    assert.equal((await getJson(stack, '/v1/items/a:b'))['id'], 'a:b');
    assert.equal((await getJson(stack, '/v1/files/dir/file:v2'))['path'], 'dir/file:v2');
    assert.equal((await getJson(stack, '/v1/ops/a:b:cancel', { method: 'POST', body: {} }))['name'], 'ops/a:b');
    assert.equal((await request(stack, '/v1/ops/x%3Acancel', { method: 'POST', body: {} })).status, 404);
  });

  it('checks path values against the field type', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/sleep/soon'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [{ field: 'ms', description: 'expected an integer string or number (int32)' }]);
  });

  it('answers 400 for a malformed percent-escape in the path', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/%E0%A4%A'), 400, 'INVALID_ARGUMENT');
    assert.match(envelope.message, /percent/i);
  });
});

describe('query parameters', () => {
  it('reads fields by proto name and by JSON name, json_name included', async () => {
    const byProto = await getJson(stack, '/v1/items/q?user_id=u1&display_name=Proto');
    const byJson = await getJson(stack, '/v1/items/q?userId=u2&title=Json');
    assert.deepEqual([byProto['userId'], byProto['title']], ['u1', 'Proto']);
    assert.deepEqual([byJson['userId'], byJson['title']], ['u2', 'Json']);
  });

  it('reads nested fields with dotted paths', async () => {
    const echoed = await getJson(stack, '/v1/items/q?inner.leaf=L&inner.deep.value=V&inner.deep.count=12');
    assert.deepEqual(echoed['inner'], { leaf: 'L', deep: { value: 'V', count: '12' }, notes: [] });
  });

  it('collects repeated parameters in order, for strings, 64-bit integers and enums', async () => {
    const echoed = await getJson(stack, '/v1/items/q?tags=b&tags=a&numbers=1&numbers=9007199254740993&kinds=KIND_BETA&kinds=1&inner.notes=n1&inner.notes=n2');
    assert.deepEqual(echoed['tags'], ['b', 'a']);
    assert.deepEqual(echoed['numbers'], ['1', '9007199254740993']);
    assert.deepEqual(echoed['kinds'], ['KIND_BETA', 'KIND_ALPHA']);
    assert.deepEqual((echoed['inner'] as Record<string, unknown>)['notes'], ['n1', 'n2']);
  });

  it('reads map entries written m[key]=value, escaped brackets included', async () => {
    const echoed = await getJson(stack, '/v1/items/q?labels[env]=prod&labels%5Bteam%5D=core&kind_by_rank[1]=KIND_ALPHA&kindByRank[2]=2');
    assert.deepEqual(echoed['labels'], { env: 'prod', team: 'core' });
    assert.deepEqual(echoed['kindByRank'], { '1': 'KIND_ALPHA', '2': 'KIND_BETA' });
  });

  it('reads enums by name or by number', async () => {
    assert.equal((await getJson(stack, '/v1/items/q?kind=KIND_ALPHA'))['kind'], 'KIND_ALPHA');
    assert.equal((await getJson(stack, '/v1/items/q?kind=2'))['kind'], 'KIND_BETA');
  });

  it('reads bools, every 64-bit integer type at its limits and floats', async () => {
    const echoed = await getJson(
      stack,
      '/v1/items/q?scalars.f_bool=true&scalars.f_int64=-9223372036854775808&scalars.f_uint64=18446744073709551615' +
        '&scalars.fSint64=9007199254740993&scalars.f_fixed64=18446744073709551615&scalars.f_sfixed64=9223372036854775807' +
        '&scalars.f_int32=-2147483648&scalars.f_uint32=4294967295&scalars.f_double=2.5&scalars.f_float=NaN&scalars.f_bytes=-_8',
    );
    const scalars = echoed['scalars'] as Record<string, unknown>;
    assert.equal(scalars['fBool'], true);
    assert.equal(scalars['fInt64'], '-9223372036854775808');
    assert.equal(scalars['fUint64'], '18446744073709551615');
    assert.equal(scalars['fSint64'], '9007199254740993');
    assert.equal(scalars['fFixed64'], '18446744073709551615');
    assert.equal(scalars['fSfixed64'], '9223372036854775807');
    assert.equal(scalars['fInt32'], -2147483648);
    assert.equal(scalars['fUint32'], 4294967295);
    assert.equal(scalars['fDouble'], 2.5);
    assert.equal(scalars['fFloat'], 'NaN');
    assert.equal(scalars['fBytes'], '+/8=');
  });

  it('reads wrappers as their scalar, and Timestamp, Duration and FieldMask as their strings', async () => {
    const echoed = await getJson(
      stack,
      '/v1/items/q?wkt.int64_wrapper=9007199254740993&wkt.boolWrapper=false&wkt.string_wrapper=&wkt.uint32_wrapper=7' +
        '&wkt.timestamp=2024-01-31T12:00:00.250%2B01:00&wkt.duration=1.5s&wkt.field_mask=title,inner.deep.value',
    );
    assert.deepEqual(echoed['wkt'], {
      int64Wrapper: '9007199254740993',
      boolWrapper: false,
      stringWrapper: '',
      uint32Wrapper: 7,
      timestamp: '2024-01-31T11:00:00.250Z',
      duration: '1.500s',
      fieldMask: 'title,inner.deep.value',
    });
  });

  it('treats "+" as a space and "%2B" as a plus sign', async () => {
    const echoed = await getJson(stack, '/v1/items/q?title=hello+big+world&maybe=1%2B1%3D2');
    assert.equal(echoed['title'], 'hello big world');
    assert.equal(echoed['maybe'], '1+1=2');
  });

  it('names every bad query value in one 400', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/q?scalars.f_int32=abc&kind=KIND_GAMMA&scalars.f_bool=yes'), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(
      fieldViolations(envelope).map((v) => v.field).sort(),
      ['kind', 'scalars.fBool', 'scalars.fInt32'],
    );
  });
});

describe('response_body', () => {
  it('answers with the named message field instead of the whole message', async () => {
    const inner = await getJson(stack, '/v1/items/r1/inner?inner.leaf=only-this&title=hidden');
    assert.deepEqual(inner, { leaf: 'only-this', notes: [] });
  });

  it('answers a repeated response_body field as a JSON array, empty included', async () => {
    const tags = await request(stack, '/v1/items/r1/tags?tags=x&tags=y');
    assert.equal(tags.status, 200);
    assert.equal(tags.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(tags.text, '["x","y"]');
    assert.equal((await request(stack, '/v1/items/r1/tags')).text, '[]');
  });
});

describe('HEAD, 404 and 405', () => {
  it('answers HEAD on a GET binding with the GET status and headers and no body', async () => {
    const head = await rawRequest(stack, { method: 'HEAD', path: '/v1/items/h1?title=t' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(head.body, '');
    assert.equal(stack.upstream.calls.at(-1)?.method, 'GetItem');
  });

  it('answers 404 with the envelope for a path no binding matches', async () => {
    for (const path of ['/v1/nothing/here', '/v2/items/x', '/v1/items/a/b/c/d', '/', '/v1/items/x/']) {
      const envelope = assertEnvelope(await request(stack, path), 404, 'NOT_FOUND');
      assert.match(envelope.message, /no route/);
    }
  });

  it('answers 405 with Allow listing every method of the path, HEAD where GET is', async () => {
    const post = await request(stack, '/v1/items/x', { method: 'POST', body: {} });
    assertEnvelope(post, 405, 'UNIMPLEMENTED');
    assert.equal(post.headers.get('allow'), 'DELETE, GET, HEAD, PATCH, PUT');

    const onFiles = await request(stack, '/v1/files/a/b', { method: 'DELETE' });
    assertEnvelope(onFiles, 405, 'UNIMPLEMENTED');
    assert.equal(onFiles.headers.get('allow'), 'GET, HEAD');

    const onCreate = await request(stack, '/v1/items', { method: 'GET' });
    assertEnvelope(onCreate, 405, 'UNIMPLEMENTED');
    assert.equal(onCreate.headers.get('allow'), 'POST');

    const onHead = await rawRequest(stack, { method: 'HEAD', path: '/v1/items' });
    assert.equal(onHead.status, 405);
    assert.equal(onHead.headers['allow'], 'POST');

    const onOptions = await request(stack, '/v1/items/x', { method: 'OPTIONS' });
    assertEnvelope(onOptions, 405, 'UNIMPLEMENTED');
    assert.equal(onOptions.headers.get('allow'), 'DELETE, GET, HEAD, PATCH, PUT');

    const onPurge = await request(stack, '/v1/items/x/cache');
    assertEnvelope(onPurge, 405, 'UNIMPLEMENTED');
    assert.equal(onPurge.headers.get('allow'), 'PURGE');
  });
});

describe('routing before the body', () => {
  it('answers 404 for an unknown path and 405 for a wrong method whatever the body', async () => {
    const cases: [string, string, Record<string, string>, string, number][] = [
      ['POST', '/v1/nowhere', { 'content-type': 'text/plain' }, 'x', 404],
      ['POST', '/v1/files/x', { 'content-type': 'text/plain' }, 'x', 405],
      ['PUT', '/v1/nowhere', { 'content-type': 'application/json' }, JSON.stringify({ title: 'x'.repeat(2 * 1024 * 1024) }), 404],
      ['POST', '/v1/items/x', { 'content-type': 'application/json' }, '{not json', 405],
    ];
    for (const [method, path, headers, body, status] of cases) {
      const response = await request(stack, path, { method, headers, body });
      assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
    }
  });
});

describe('start-up checks', () => {
  it('refuses to build a gateway whose bindings collide, naming both', async () => {
    const config = stackConfig([
      {
        name: 'colliding',
        protoFiles: ['acceptance/v1/collide.proto'],
        service: 'acceptance.v1.CollidingService',
        address: '127.0.0.1:1',
      },
    ]);
    await assert.rejects(buildApp(config, { logger: false }), (err: Error) => {
      assert.match(err.message, /GET \/v1\/things\/\{id\} \(acceptance\.v1\.CollidingService\.First\)/);
      assert.match(err.message, /GET \/v1\/things\/\{name\} \(acceptance\.v1\.CollidingService\.Second\)/);
      return true;
    });
  });

  it('refuses two services whose bindings collide across services', async () => {
    const config = stackConfig([
      echoService('127.0.0.1:1'),
      { ...echoService('127.0.0.1:1'), name: 'echo-twin' },
    ]);
    await assert.rejects(buildApp(config, { logger: false }), /GET \/v1\/items\/\{id\} \(acceptance\.v1\.EchoService\.GetItem\).*GET \/v1\/items\/\{id\} \(acceptance\.v1\.EchoService\.GetItem\)/s);
  });
});

describe('metrics route label', () => {
  it('labels requests with the binding template as written and unmatched requests with "unmatched"', async () => {
    await getJson(stack, '/v1/items/metric-item-1');
    await getJson(stack, '/v1/items/metric-item-2');
    await getJson(stack, '/v1/ops/metric-op:cancel', { method: 'POST', body: {} });
    await getJson(stack, '/v1/files/metric/dir');
    await request(stack, '/v1/metric-nowhere-1');
    await request(stack, '/v1/metric-nowhere-2');

    const metrics = await request(stack, '/metrics');
    assert.equal(metrics.status, 200);
    const routes = new Set([...metrics.text.matchAll(/^portico_http_requests_total\{route="([^"]*)"/gm)].map((m) => m[1]));
    for (const label of ['/v1/items/{id}', '/v1/{name=ops/*}:cancel', '/v1/files/{path=**}', 'unmatched']) {
      assert.ok(routes.has(label), `route="${label}" in ${[...routes].join(', ')}`);
    }
    assert.ok(![...routes].some((r) => r?.includes('metric-')), `no raw path values: ${[...routes].join(', ')}`);
    const count = (labels: string): number => {
      const line = metrics.text.split('\n').find((l) => l.startsWith(`portico_http_requests_total{${labels}} `));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    assert.ok(count('route="/v1/items/{id}",method="GET",status="200"') >= 2);
    assert.ok(count('route="/v1/{name=ops/*}:cancel",method="POST",status="200"') >= 1);
    assert.ok(count('route="unmatched",method="GET",status="404"') >= 2);
  });
});
