import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertEnvelope, fieldViolations, getJson, request, startStack, type Stack } from './harness.js';

/*
 * proto3 JSON both ways, through PUT /v1/items/{id} (body "*"): the gateway decodes the body into
 * acceptance.v1.EchoMessage, the upstream echoes it, and the gateway encodes the echo. What
 * comes back is the canonical proto3 JSON of what the gateway understood.
 */

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

/** PUT the body and return the echoed message. */
function echo(body: unknown): Promise<Record<string, unknown>> {
  return getJson(stack, '/v1/items/json', { method: 'PUT', body });
}

const zeroScalars = {
  fDouble: 0,
  fFloat: 0,
  fInt32: 0,
  fInt64: '0',
  fUint32: 0,
  fUint64: '0',
  fSint32: 0,
  fSint64: '0',
  fFixed32: 0,
  fFixed64: '0',
  fSfixed32: 0,
  fSfixed64: '0',
  fBool: false,
  fString: '',
  fBytes: '',
};

describe('output', () => {
  it('emits unpopulated scalars and enums with zero values, repeated as [] and maps as {}, and omits unset messages, oneofs and optionals', async () => {
    const echoed = await getJson(stack, '/v1/items/empty');
    assert.deepEqual(echoed, {
      id: 'empty',
      name: '',
      path: '',
      kind: 'KIND_UNSPECIFIED',
      kinds: [],
      tags: [],
      numbers: [],
      labels: {},
      kindByRank: {},
      innerByKey: {},
      items: [],
      title: '',
      userId: '',
    });
  });

  it('emits lowerCamelCase JSON names and json_name, never proto names', async () => {
    const echoed = await echo({ display_name: 'T', user_id: 'U', kind_by_rank: { '3': 'KIND_ALPHA' } });
    assert.equal(echoed['title'], 'T');
    assert.equal(echoed['userId'], 'U');
    assert.deepEqual(echoed['kindByRank'], { '3': 'KIND_ALPHA' });
    for (const key of ['display_name', 'displayName', 'user_id', 'kind_by_rank']) assert.ok(!(key in echoed), key);
  });

  it('emits a populated nested message with its own zero values', async () => {
    const echoed = await echo({ scalars: {} });
    assert.deepEqual(echoed['scalars'], zeroScalars);
  });

  it('emits proto3 optional fields and oneof members once set, even to zero values', async () => {
    const echoed = await echo({ maybe: '', maybeCount: 0, choiceNumber: '0' });
    assert.equal(echoed['maybe'], '');
    assert.equal(echoed['maybeCount'], 0);
    assert.equal(echoed['choiceNumber'], '0');
    assert.ok(!('choiceText' in echoed) && !('choiceInner' in echoed));
  });
});

describe('field names on input', () => {
  it('accepts proto names and JSON names at every depth', async () => {
    const byProto = await echo({ user_id: 'a', display_name: 'b', inner: { deep: { value: 'c' } }, scalars: { f_int32: 1, f_bool: true } });
    const byJson = await echo({ userId: 'a', title: 'b', inner: { deep: { value: 'c' } }, scalars: { fInt32: 1, fBool: true } });
    assert.deepEqual(byProto, byJson);
    assert.equal(byJson['userId'], 'a');
    assert.equal(byJson['title'], 'b');
  });

  it('treats null as the default value of any field', async () => {
    const echoed = await echo({ title: null, inner: null, tags: null, labels: null, kind: null, wkt: { int64Wrapper: null } });
    assert.equal(echoed['title'], '');
    assert.ok(!('inner' in echoed));
    assert.deepEqual(echoed['tags'], []);
    assert.deepEqual(echoed['wkt'], {});
  });

  it('rejects the same field set by its proto name and its JSON name', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { user_id: 'a', userId: 'b' } }), 400, 'INVALID_ARGUMENT');
    assert.ok(fieldViolations(envelope).some((v) => v.field === 'userId'));
  });

  it('rejects two members of one oneof', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { choiceText: 'a', choiceNumber: 1 } }), 400, 'INVALID_ARGUMENT');
    assert.match(envelope.message, /oneof "choice"/);
  });
});

describe('scalars', () => {
  it('round-trips every scalar type in canonical form', async () => {
    const scalars = {
      fDouble: -1.25,
      fFloat: 0.5,
      fInt32: -2147483648,
      fInt64: '-9223372036854775808',
      fUint32: 4294967295,
      fUint64: '18446744073709551615',
      fSint32: -17,
      fSint64: '-9223372036854775807',
      fFixed32: 4294967295,
      fFixed64: '18446744073709551615',
      fSfixed32: -2147483648,
      fSfixed64: '9223372036854775807',
      fBool: true,
      fString: 'héllo ✓ 😀',
      fBytes: 'AAECAwQ=',
    };
    assert.deepEqual((await echo({ scalars }))['scalars'], scalars);
  });

  it('keeps integers beyond 2^53 exact in int64 fields and numeric inside Struct, Value and ListValue', async () => {
    // Raw text: a JavaScript literal would already have rounded these numbers.
    const echoed = await getJson(stack, '/v1/items/json', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"numbers":[9007199254740993],"wkt":{"struct":{"id":12345678901234567890,"name":"x"},"value":98765432109876543210,"listValue":[12345678901234567891,"text"]}}',
    });
    assert.deepEqual(echoed['numbers'], ['9007199254740993']);
    const wkt = echoed['wkt'] as Record<string, unknown>;
    // Numbers (doubles, as google.protobuf.Value holds them), not strings.
    assert.deepEqual(wkt['struct'], { id: 12345678901234567000, name: 'x' });
    assert.equal(wkt['value'], 98765432109876540000);
    assert.deepEqual(wkt['listValue'], [12345678901234567000, 'text']);
  });

  it('answers a float with the shortest decimal that reads back as the same float32', async () => {
    const echoed = await echo({ scalars: { fFloat: 0.1, fDouble: 0.1 }, wkt: { floatWrapper: 3.14 } });
    assert.equal((echoed['scalars'] as Record<string, unknown>)['fFloat'], 0.1);
    assert.equal((echoed['scalars'] as Record<string, unknown>)['fDouble'], 0.1);
    assert.equal((echoed['wkt'] as Record<string, unknown>)['floatWrapper'], 3.14);
  });

  it('accepts 64-bit integers as JSON numbers or strings and answers strings', async () => {
    const echoed = await echo({ scalars: { fInt64: 42, fUint64: '43', fSint64: -44, fFixed64: 45, fSfixed64: '-46' }, numbers: [1, '2', -3] });
    const scalars = echoed['scalars'] as Record<string, unknown>;
    assert.deepEqual([scalars['fInt64'], scalars['fUint64'], scalars['fSint64'], scalars['fFixed64'], scalars['fSfixed64']], ['42', '43', '-44', '45', '-46']);
    assert.deepEqual(echoed['numbers'], ['1', '2', '-3']);
  });

  it('never rounds a JSON number above 2^53', async () => {
    const response = await request(stack, '/v1/items/json', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"scalars":{"fInt64":9007199254740993,"fUint64":18446744073709551615},"numbers":[9007199254740993],"inner":{"deep":{"count":-9007199254740993}}}',
    });
    assert.equal(response.status, 200, response.text);
    assert.match(response.text, /"fInt64":"9007199254740993"/);
    assert.match(response.text, /"fUint64":"18446744073709551615"/);
    assert.match(response.text, /"numbers":\["9007199254740993"\]/);
    assert.match(response.text, /"count":"-9007199254740993"/);
  });

  it('accepts integral floats and exponents for integer fields but rejects fractions and overflow', async () => {
    const echoed = await echo({ scalars: { fInt32: 1e3, fUint32: '7', fInt64: '100' } });
    assert.equal((echoed['scalars'] as Record<string, unknown>)['fInt32'], 1000);
    const envelope = assertEnvelope(
      await request(stack, '/v1/items/json', { method: 'PUT', body: { scalars: { fInt32: 1.5, fUint32: -1, fInt64: '9223372036854775808' } } }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.deepEqual(fieldViolations(envelope).map((v) => v.field).sort(), ['scalars.fInt32', 'scalars.fInt64', 'scalars.fUint32']);
  });

  it('accepts "NaN", "Infinity" and "-Infinity" for floating-point fields and answers them as strings', async () => {
    const echoed = await echo({ scalars: { fDouble: 'NaN', fFloat: '-Infinity' }, wkt: { doubleWrapper: 'Infinity', floatWrapper: 'NaN' } });
    const scalars = echoed['scalars'] as Record<string, unknown>;
    assert.equal(scalars['fDouble'], 'NaN');
    assert.equal(scalars['fFloat'], '-Infinity');
    assert.deepEqual(echoed['wkt'], { doubleWrapper: 'Infinity', floatWrapper: 'NaN' });
  });

  it('accepts bytes in standard and URL-safe base64, padded or not, and answers standard padded base64', async () => {
    for (const sent of ['+/8=', '-_8=', '-_8', '+/8']) {
      const echoed = await echo({ scalars: { fBytes: sent } });
      assert.equal((echoed['scalars'] as Record<string, unknown>)['fBytes'], '+/8=', sent);
    }
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { scalars: { fBytes: 'not base64!' } } }), 400, 'INVALID_ARGUMENT');
    assert.equal(fieldViolations(envelope)[0]?.field, 'scalars.fBytes');
  });

  it('rejects a string for a bool and a number for a string', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { scalars: { fBool: 'true', fString: 5 } } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope).map((v) => v.field).sort(), ['scalars.fBool', 'scalars.fString']);
  });
});

describe('enums', () => {
  it('accepts names or numbers, in fields, lists and map values, and answers names', async () => {
    const echoed = await echo({ kind: 2, kinds: ['KIND_ALPHA', 2, 0], kindByRank: { '1': 1, '-5': 'KIND_BETA' } });
    assert.equal(echoed['kind'], 'KIND_BETA');
    assert.deepEqual(echoed['kinds'], ['KIND_ALPHA', 'KIND_BETA', 'KIND_UNSPECIFIED']);
    assert.deepEqual(echoed['kindByRank'], { '1': 'KIND_ALPHA', '-5': 'KIND_BETA' });
  });

  it('keeps an unknown number of an open enum and answers it as a number', async () => {
    assert.equal((await echo({ kind: 7 }))['kind'], 7);
  });

  it('rejects an unknown enum name', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { kind: 'KIND_GAMMA' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(fieldViolations(envelope), [{ field: 'kind', description: 'invalid value "KIND_GAMMA" for enum acceptance.v1.Kind' }]);
  });
});

describe('repeated fields and maps', () => {
  it('round-trips lists of messages and maps of messages', async () => {
    const body = {
      items: [{ leaf: 'a', notes: [] }, { leaf: 'b', deep: { value: 'x', count: '1' }, notes: ['n'] }],
      innerByKey: { first: { leaf: '1', notes: [] }, 'with space': { leaf: '2', notes: [] } },
      labels: { a: 'b', '': 'empty key' },
    };
    const echoed = await echo(body);
    assert.deepEqual(echoed['items'], body.items);
    assert.deepEqual(echoed['innerByKey'], body.innerByKey);
    assert.deepEqual(echoed['labels'], body.labels);
  });

  it('rejects a map key of the wrong type', async () => {
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { kindByRank: { one: 1 } } }), 400, 'INVALID_ARGUMENT');
    assert.equal(fieldViolations(envelope)[0]?.field, 'kindByRank["one"]');
  });
});

describe('well-known types', () => {
  it('maps Timestamp to RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits', async () => {
    const cases: [string, string][] = [
      ['2024-01-31T12:00:00Z', '2024-01-31T12:00:00Z'],
      ['2024-01-31T12:00:00.5+01:00', '2024-01-31T11:00:00.500Z'],
      ['1970-01-01T00:00:00.000001Z', '1970-01-01T00:00:00.000001Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
      ['9999-12-31T23:59:59.999999999Z', '9999-12-31T23:59:59.999999999Z'],
    ];
    for (const [sent, expected] of cases) {
      assert.equal(((await echo({ wkt: { timestamp: sent } }))['wkt'] as Record<string, unknown>)['timestamp'], expected, sent);
    }
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { wkt: { timestamp: '2024-02-30T00:00:00Z' } } }), 400, 'INVALID_ARGUMENT');
    assert.equal(fieldViolations(envelope)[0]?.field, 'wkt.timestamp');
  });

  it('maps Duration to seconds with 0, 3, 6 or 9 fractional digits and an "s"', async () => {
    const cases: [string, string][] = [
      ['3s', '3s'],
      ['1.5s', '1.500s'],
      ['-0.000001s', '-0.000001s'],
      ['315576000000.999999999s', '315576000000.999999999s'],
    ];
    for (const [sent, expected] of cases) {
      assert.equal(((await echo({ wkt: { duration: sent } }))['wkt'] as Record<string, unknown>)['duration'], expected, sent);
    }
    const envelope = assertEnvelope(await request(stack, '/v1/items/json', { method: 'PUT', body: { wkt: { duration: '5m' } } }), 400, 'INVALID_ARGUMENT');
    assert.equal(fieldViolations(envelope)[0]?.field, 'wkt.duration');
  });

  it('maps FieldMask to one comma-separated string of lowerCamelCase paths', async () => {
    const echoed = await echo({ wkt: { fieldMask: 'title,inner.deep.value,scalars.fInt64' } });
    assert.equal((echoed['wkt'] as Record<string, unknown>)['fieldMask'], 'title,inner.deep.value,scalars.fInt64');
  });

  it('maps Struct, Value and ListValue to plain JSON', async () => {
    const struct = { a: 1.5, b: [true, null, 'x', { c: {} }], d: { e: 'f' }, g: null };
    const echoed = await echo({ wkt: { struct, value: 'just a string', listValue: [1, 'two', [3], { four: 4 }] } });
    assert.deepEqual(echoed['wkt'], { struct, value: 'just a string', listValue: [1, 'two', [3], { four: 4 }] });
    for (const value of [null, 7, false, [], {}, { nested: [null] }]) {
      assert.deepEqual(((await echo({ wkt: { value } }))['wkt'] as Record<string, unknown>)['value'], value, JSON.stringify(value));
    }
  });

  it('rejects a number beyond the double range inside Struct, Value or ListValue', async () => {
    for (const [body, field] of [
      ['{"wkt":{"value":1e400}}', 'wkt.value'],
      ['{"wkt":{"struct":{"a":{"b":[-1e999]}}}}', 'wkt.struct'],
      ['{"wkt":{"listValue":[1,1e400]}}', 'wkt.listValue'],
    ] as const) {
      const response = await request(stack, '/v1/items/json', { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      const envelope = assertEnvelope(response, 400, 'INVALID_ARGUMENT');
      assert.deepEqual(fieldViolations(envelope), [{ field, description: 'number out of range (google.protobuf.Value)' }], body);
    }
  });

  it('maps Empty to {}', async () => {
    assert.deepEqual(((await echo({ wkt: { empty: {} } }))['wkt'] as Record<string, unknown>)['empty'], {});
  });

  it('maps Any to the packed message with "@type", and a well-known type with "value"', async () => {
    const message = { '@type': 'type.googleapis.com/acceptance.v1.Deep', value: 'x', count: '9007199254740993' };
    assert.deepEqual(((await echo({ wkt: { any: message } }))['wkt'] as Record<string, unknown>)['any'], message);
    const duration = { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.500s' };
    assert.deepEqual(((await echo({ wkt: { any: duration } }))['wkt'] as Record<string, unknown>)['any'], duration);
    const struct = { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { k: [1] } };
    assert.deepEqual(((await echo({ wkt: { any: struct } }))['wkt'] as Record<string, unknown>)['any'], struct);
  });

  it('rejects an Any of an unknown type', async () => {
    const envelope = assertEnvelope(
      await request(stack, '/v1/items/json', { method: 'PUT', body: { wkt: { any: { '@type': 'type.googleapis.com/nowhere.Nothing', x: 1 } } } }),
      400,
      'INVALID_ARGUMENT',
    );
    assert.equal(fieldViolations(envelope)[0]?.field, 'wkt.any["@type"]');
  });

  it('maps every wrapper to its scalar, null meaning unset', async () => {
    const wrappers = {
      doubleWrapper: 1.5,
      floatWrapper: -2,
      int64Wrapper: '-9007199254740993',
      uint64Wrapper: '18446744073709551615',
      int32Wrapper: -3,
      uint32Wrapper: 4,
      boolWrapper: false,
      stringWrapper: '',
      bytesWrapper: 'AQI=',
    };
    assert.deepEqual((await echo({ wkt: wrappers }))['wkt'], wrappers);
    assert.deepEqual((await echo({ wkt: { int32Wrapper: null, stringWrapper: null } }))['wkt'], {});
    const numbers = await request(stack, '/v1/items/json', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"wkt":{"int64Wrapper":5,"uint64Wrapper":9007199254740993}}',
    });
    assert.deepEqual((numbers.json as Record<string, unknown>)['wkt'], { int64Wrapper: '5', uint64Wrapper: '9007199254740993' });
  });
});
