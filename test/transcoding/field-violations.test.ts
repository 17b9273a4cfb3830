import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { fromJson, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { parseJsonExact } from '../../src/transcoding/exact-json.js';
import { validateMessageJson, type FieldViolation, type ValidationOptions } from '../../src/transcoding/field-violations.js';

const protoDir = fileURLToPath(new URL('../fixtures/protos', import.meta.url));
const registry = buildFileRegistry(loadProtoSources([protoDir], ['binding/v1/orders.proto']));
const Order = registry.getMessage('binding.v1.Order')!;
const Money = registry.getMessage('binding.v1.Money')!;

const strict: ValidationOptions = { allowUnknownFields: false, registry };
const lenient: ValidationOptions = { allowUnknownFields: true, registry };

function check(json: unknown, options: ValidationOptions = strict, desc: DescMessage = Order): FieldViolation[] {
  return validateMessageJson(desc, json, options);
}

/** No violations, and fromJson agrees that the JSON decodes. */
function assertAccepted(json: unknown, options: ValidationOptions = strict, desc: DescMessage = Order): void {
  assert.deepEqual(check(json, options, desc), []);
  fromJson(desc, json as JsonValue, { registry, ignoreUnknownFields: options.allowUnknownFields });
}

function assertViolation(json: unknown, field: string, description: string | RegExp, options: ValidationOptions = strict): void {
  const violations = check(json, options);
  const match = violations.find((v) => v.field === field && (typeof description === 'string' ? v.description === description : description.test(v.description)));
  assert.ok(match, `expected a violation at "${field}" matching ${String(description)}, got ${JSON.stringify(violations)}`);
  assert.throws(() => fromJson(Order, json as JsonValue, { registry, ignoreUnknownFields: options.allowUnknownFields }));
}

/** A violation the validator reports although fromJson is more lenient (it is stricter on purpose). */
function assertStricterThanFromJson(json: unknown, field: string, description: string | RegExp): void {
  const violations = check(json);
  assert.ok(
    violations.some((v) => v.field === field && (typeof description === 'string' ? v.description === description : description.test(v.description))),
    JSON.stringify(violations),
  );
}

const fullOrder = {
  name: 'orders/1',
  shelf: { shelfId: 's1', genre: 'fiction', budget: { currencyCode: 'EUR', units: '10', nanos: 500000000 } },
  scalars: {
    doubleValue: 1.5,
    floatValue: -2.25,
    int32Value: -7,
    int64Value: '-9223372036854775808',
    uint32Value: 4294967295,
    uint64Value: '18446744073709551615',
    sint32Value: 3,
    sint64Value: '42',
    fixed32Value: 9,
    fixed64Value: '9',
    sfixed32Value: -9,
    sfixed64Value: '-9',
    boolValue: true,
    stringValue: 'héllo ☃',
    bytesValue: 'aGVsbG8=',
  },
  wrappers: {
    doubleWrapper: 'NaN',
    floatWrapper: 1,
    int64Wrapper: '5',
    uint64Wrapper: '6',
    int32Wrapper: 7,
    uint32Wrapper: 8,
    boolWrapper: false,
    stringWrapper: '',
    bytesWrapper: '',
  },
  color: 'GREEN',
  colors: ['RED', 3],
  items: [{ sku: 'a', price: { currencyCode: 'USD', units: 1 }, quantity: 2 }],
  tags: ['x', 'y'],
  ids: ['1', 2],
  labels: { env: 'prod' },
  pricesById: { '-5': { units: '3' } },
  flags: { true: 'yes', false: 'no' },
  colorByRank: { '1': 'RED', '2': 2 },
  counts: { '18446744073709551615': '-1' },
  attributes: { a: null, b: [1, 'x'], c: { d: true } },
  cardToken: 'tok_123',
  priority: 0,
  note: '',
  extRef: 'r',
  quantity: '3',
  requiredTags: ['t'],
  createTime: '2024-01-31T12:00:00.123456789+05:30',
  ttl: '-1.5s',
  updateMask: 'name,shelf.shelfId',
  metadata: { k: [1, { x: null }] },
  extra: null,
  history: [1, 'two', null],
  marker: {},
  detail: { '@type': 'type.googleapis.com/binding.v1.Money', currencyCode: 'EUR', units: '1' },
  details: [{ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' }, {}],
  checkpoints: ['2024-01-31T12:00:00Z'],
  timeouts: { read: '0.5s' },
  values: [null, 1, 'a', [], {}],
  version: '12',
  parent: { name: 'orders/0', parent: { name: 'orders/-1' } },
};

describe('validateMessageJson', () => {
  it('accepts an order that sets every field, and fromJson decodes it', () => {
    assertAccepted(fullOrder);
  });

  it('returns one shared frozen empty array when there is nothing to report', () => {
    const a = check({ name: 'x' });
    const b = check(fullOrder);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a));
  });

  it('requires an object for the request message', () => {
    for (const json of [null, [], 'x', 5, true]) {
      assert.deepEqual(check(json), [{ field: '', description: 'expected an object (binding.v1.Order)' }]);
    }
  });

  it('accepts keys by JSON name or by proto name, custom json_name included', () => {
    assertAccepted({ external_ref: 'r', create_time: '2024-01-01T00:00:00Z', shelf: { shelf_id: 's' }, scalars: { int64_value: '1' } });
    assertAccepted({ extRef: 'r' });
  });

  it('reports each unknown field by its JSON path, nested ones included', () => {
    assert.deepEqual(check({ nope: 1, shelf: { shelfID: 'x' }, items: [{}, { skus: [] }], 'a b': 1 }), [
      { field: 'nope', description: 'unknown field' },
      { field: 'shelf.shelfID', description: 'unknown field' },
      { field: 'items[1].skus', description: 'unknown field' },
      { field: '["a b"]', description: 'unknown field' },
    ]);
  });

  it('accepts unknown fields when allowUnknownFields is set', () => {
    assertAccepted({ nope: 1, shelf: { shelfID: 'x' } }, lenient);
  });

  it('reports a field given by both its proto name and its JSON name', () => {
    assertViolation({ shelf: { shelf_id: 'a', shelfId: 'b' } }, 'shelf.shelfId', 'field is set twice, by its proto name and its JSON name');
    assertViolation({ ext_ref: 'a', extRef: 'b', external_ref: 'c' }, 'extRef', /set twice/);
  });

  it('reports a second member of a oneof, at the later-declared member', () => {
    assertViolation({ voucherId: '5', cardToken: 'x' }, 'voucherId', 'oneof "payment" is also set by "cardToken"');
    assertViolation({ cash: {}, voucher_color: 'RED' }, 'voucherColor', 'oneof "payment" is also set by "cash"');
  });

  it('ignores null scalar oneof members, but counts null message and enum members as fromJson does', () => {
    assertAccepted({ cardToken: null, voucherId: '5' });
    assertViolation({ cash: null, voucherId: '5' }, 'voucherId', /oneof "payment"/);
    assertViolation({ cardToken: 'x', voucherColor: null }, 'voucherColor', /oneof "payment"/);
  });

  describe('32-bit integers', () => {
    it('accept numbers and numeric strings that are integral and in range', () => {
      assertAccepted({
        scalars: { int32Value: '-2147483648', uint32Value: '4294967295', sint32Value: 2147483647, fixed32Value: '1e3', sfixed32Value: 1.0 },
      });
      assertAccepted({ scalars: { int32Value: '5.0', uint32Value: '-0' } });
    });

    it('reject fractions, words, booleans and the empty string', () => {
      for (const value of [1.5, '1.5', 'abc', true, '', '1e-3']) {
        assertViolation({ scalars: { int32Value: value } }, 'scalars.int32Value', 'expected an integer string or number (int32)');
      }
    });

    it('reject values outside the type range', () => {
      assertViolation({ scalars: { int32Value: 2147483648 } }, 'scalars.int32Value', 'integer out of range (int32)');
      assertViolation({ scalars: { sfixed32Value: '-2147483649' } }, 'scalars.sfixed32Value', 'integer out of range (sfixed32)');
      assertViolation({ scalars: { uint32Value: -1 } }, 'scalars.uint32Value', 'integer out of range (uint32)');
      assertViolation({ scalars: { fixed32Value: '4294967296' } }, 'scalars.fixed32Value', 'integer out of range (fixed32)');
    });

    it('reject hexadecimal and padded strings that fromJson would take', () => {
      assertStricterThanFromJson({ scalars: { int32Value: '0x10' } }, 'scalars.int32Value', /expected an integer/);
      assertStricterThanFromJson({ scalars: { sint32Value: '+5' } }, 'scalars.sint32Value', /expected an integer/);
    });
  });

  describe('64-bit integers', () => {
    it('accept safe numbers and exact integer strings across the whole range', () => {
      assertAccepted({
        scalars: {
          int64Value: '9223372036854775807',
          sint64Value: '-9223372036854775808',
          sfixed64Value: -9007199254740991,
          uint64Value: '18446744073709551615',
          fixed64Value: 9007199254740991,
        },
      });
      assertAccepted({ scalars: { uint64Value: '-0', int64Value: '000123' } });
    });

    it('reject values outside the type range, checked exactly', () => {
      assertViolation({ scalars: { int64Value: '9223372036854775808' } }, 'scalars.int64Value', 'integer out of range (int64)');
      assertViolation({ scalars: { sint64Value: '-9223372036854775809' } }, 'scalars.sint64Value', 'integer out of range (sint64)');
      assertViolation({ scalars: { uint64Value: '18446744073709551616' } }, 'scalars.uint64Value', 'integer out of range (uint64)');
      assertViolation({ scalars: { fixed64Value: '-1' } }, 'scalars.fixed64Value', 'integer out of range (fixed64)');
      assertViolation({ scalars: { uint64Value: -1 } }, 'scalars.uint64Value', 'integer out of range (uint64)');
    });

    it('reject numbers beyond 2^53 and ask for a string instead', () => {
      assertStricterThanFromJson({ scalars: { int64Value: 1e18 } }, 'scalars.int64Value', 'integer is too large for a JSON number, send it as a string (int64)');
    });

    it('reject fractions, exponents and words', () => {
      for (const value of [1.5, '1.5', '1e3', 'abc', '', false]) {
        assertViolation({ ids: [value] }, 'ids[0]', 'expected an integer string or number (int64)');
      }
      assertStricterThanFromJson({ ids: [' 1', '0x10'] }, 'ids[1]', 'expected an integer string or number (int64)');
    });

    it('accept the exact digits parseJsonExact keeps for large literals', () => {
      assertAccepted(parseJsonExact('{"scalars":{"int64Value":-9223372036854775808,"uint64Value":18446744073709551615}}'));
    });
  });

  describe('floating point', () => {
    it('accept numbers, numeric strings and the special strings', () => {
      for (const value of [1.5, -0, '1.5', '-1e10', '.5', 'NaN', 'Infinity', '-Infinity', 3.4e38]) {
        assertAccepted({ scalars: { floatValue: value, doubleValue: value } });
      }
    });

    it('reject words, other spellings of the special values and booleans', () => {
      for (const value of ['abc', 'nan', 'inf', true, '', '1,5']) {
        assertViolation({ scalars: { doubleValue: value } }, 'scalars.doubleValue', 'expected a number or numeric string (double)');
      }
    });

    it('reject numbers outside the range of float, and strings that overflow a double', () => {
      assertViolation({ scalars: { floatValue: 1e39 } }, 'scalars.floatValue', 'number out of range (float)');
      assertViolation({ scalars: { floatValue: '-1e39' } }, 'scalars.floatValue', 'number out of range (float)');
      assertViolation({ scalars: { doubleValue: '1e400' } }, 'scalars.doubleValue', 'number out of range (double)');
    });
  });

  it('accepts only true and false for bool', () => {
    assertAccepted({ scalars: { boolValue: false } });
    for (const value of ['true', 1, 0, 'yes']) assertViolation({ scalars: { boolValue: value } }, 'scalars.boolValue', 'expected true or false');
  });

  it('accepts any well-formed string for string and rejects lone surrogates', () => {
    assertAccepted({ scalars: { stringValue: '' }, labels: { '': 'empty key' } });
    assertViolation({ scalars: { stringValue: 5 } }, 'scalars.stringValue', 'expected a string');
    assertViolation({ scalars: { stringValue: 'a\ud800' } }, 'scalars.stringValue', 'expected a string of valid Unicode');
    assertViolation({ labels: { '\udc00': 'x' } }, 'labels["\\udc00"]', 'invalid map key: expected a string of valid Unicode');
  });

  it('accepts standard and URL-safe base64 with or without padding for bytes', () => {
    for (const value of ['aGVsbG8=', 'aGVsbG8', 'aGk=', 'aGk', '-_-_', '+/+/', '']) assertAccepted({ scalars: { bytesValue: value } });
    for (const value of ['a', 'aGVsbG8===', 'aGk*', 'a=Gk', 'aGVsbG=', 5]) {
      assertStricterThanFromJson({ scalars: { bytesValue: value } }, 'scalars.bytesValue', 'expected a base64 string (bytes)');
    }
  });

  describe('enums', () => {
    it('accept a known name or any int32 number, since proto3 enums are open', () => {
      assertAccepted({ color: 'BLUE', colors: ['RED', 0, 99, -1], colorByRank: { '1': 'GREEN' } });
    });

    it('reject unknown names and say which enum was expected', () => {
      assertViolation({ color: 'PURPLE' }, 'color', 'invalid value "PURPLE" for enum binding.v1.Color');
      assertViolation({ colors: ['RED', 'red'] }, 'colors[1]', 'invalid value "red" for enum binding.v1.Color');
      assertViolation({ color: '1' }, 'color', 'invalid value "1" for enum binding.v1.Color');
    });

    it('reject fractions, numbers beyond int32 and other JSON types', () => {
      assertViolation({ color: 1.5 }, 'color', 'expected a name or integer of enum binding.v1.Color');
      assertViolation({ color: true }, 'color', 'expected a name or integer of enum binding.v1.Color');
      assertViolation({ color: 2147483648 }, 'color', 'invalid value 2147483648 for enum binding.v1.Color');
    });

    it('accept unknown names with allowUnknownFields, which fromJson then drops', () => {
      assertAccepted({ color: 'PURPLE', colors: ['RED', 'PURPLE'], colorByRank: { '1': 'PURPLE' } }, lenient);
    });

    it('quote long values cut short', () => {
      const [violation] = check({ color: 'X'.repeat(100) });
      assert.equal(violation?.description, `invalid value "${'X'.repeat(40)}…" for enum binding.v1.Color`);
    });
  });

  describe('null', () => {
    it('means the default for every kind of field', () => {
      const json: Record<string, null> = {};
      for (const field of Order.fields) json[field.jsonName] = null;
      delete json['cash'];
      delete json['voucherColor'];
      assertAccepted(json);
    });

    it('is rejected inside lists and as map values', () => {
      assertViolation({ tags: ['a', null] }, 'tags[1]', 'null is not allowed in a list');
      assertViolation({ items: [null] }, 'items[0]', 'null is not allowed in a list');
      assertViolation({ checkpoints: [null] }, 'checkpoints[0]', 'null is not allowed in a list');
      assertViolation({ labels: { a: null } }, 'labels["a"]', 'null is not allowed as a map value');
      assertViolation({ pricesById: { '1': null } }, 'pricesById["1"]', 'null is not allowed as a map value');
    });

    it('is a value of google.protobuf.Value inside lists and maps', () => {
      assertAccepted({ values: [null], attributes: { a: null }, history: [null] });
    });
  });

  it('expects arrays for repeated fields and reports items by index', () => {
    assertViolation({ tags: 'a' }, 'tags', 'expected an array');
    assertViolation({ items: { sku: 'a' } }, 'items', 'expected an array');
    assertViolation({ items: [{}, { price: { units: 'ten' } }] }, 'items[1].price.units', 'expected an integer string or number (int64)');
  });

  describe('maps', () => {
    it('expect an object', () => {
      assertViolation({ labels: [] }, 'labels', 'expected an object (map)');
      assertViolation({ labels: 'a=b' }, 'labels', 'expected an object (map)');
    });

    it('check keys against the key type and report entries by key', () => {
      assertViolation({ pricesById: { abc: {} } }, 'pricesById["abc"]', 'invalid map key: expected an integer string (int64)');
      assertViolation({ pricesById: { '9223372036854775808': {} } }, 'pricesById["9223372036854775808"]', 'invalid map key: integer out of range (int64)');
      assertViolation({ flags: { yes: 'x' } }, 'flags["yes"]', 'invalid map key: expected "true" or "false"');
      assertViolation({ colorByRank: { '2147483648': 'RED' } }, 'colorByRank["2147483648"]', 'invalid map key: integer out of range (int32)');
      assertStricterThanFromJson({ colorByRank: { '1.0': 'RED' } }, 'colorByRank["1.0"]', 'invalid map key: expected an integer string (int32)');
      assertViolation({ counts: { '-1': '1' } }, 'counts["-1"]', 'invalid map key: integer out of range (uint64)');
    });

    it('check values against the value type', () => {
      assertViolation({ counts: { '1': 'x' } }, 'counts["1"]', 'expected an integer string or number (int64)');
      assertViolation({ pricesById: { '1': { units: true } } }, 'pricesById["1"].units', 'expected an integer string or number (int64)');
      assertViolation({ timeouts: { a: '5' } }, 'timeouts["a"]', /expected a duration string/);
    });

    it('report integer keys that are one key once leading zeros are dropped', () => {
      assertAccepted({ pricesById: { '007': {}, '8': {} }, colorByRank: { '-0': 'RED' } });
      assertViolation({ pricesById: { '7': {}, '007': {} } }, 'pricesById["007"]', 'duplicate map key');
      assertViolation({ colorByRank: { '0': 'RED', '-0': 'RED' } }, 'colorByRank["-0"]', 'duplicate map key');
    });
  });

  describe('well-known types', () => {
    it('take Timestamp as an RFC 3339 string with Z or an offset and up to nine fractional digits', () => {
      for (const value of ['2024-01-31T12:00:00Z', '2024-02-29T23:59:59.1-08:00', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z']) {
        assertAccepted({ createTime: value });
      }
      for (const value of ['2024-01-31', '2024-01-31 12:00:00Z', '2024-01-31T12:00:00', '2024-01-31T12:00:00.1234567890Z', '2024-01-31t12:00:00z', 1706702400]) {
        assertViolation({ createTime: value }, 'createTime', 'expected an RFC 3339 timestamp string, e.g. "2024-01-31T12:00:00Z"');
      }
      for (const value of ['0000-12-31T23:59:59Z', '0001-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01']) {
        assertViolation({ createTime: value }, 'createTime', 'timestamp out of range (years 0001 to 9999)');
      }
      assertAccepted({ createTime: '0001-01-01T00:00:00-01:00' });
    });

    it('reject Timestamp dates that do not exist, which Date.parse would roll over', () => {
      for (const value of ['2023-02-29T00:00:00Z', '2024-04-31T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00+24:00']) {
        assertStricterThanFromJson({ createTime: value }, 'createTime', /expected an RFC 3339 timestamp/);
      }
    });

    it('take Duration as seconds with an "s" suffix within ±10000 years', () => {
      for (const value of ['1.5s', '-3s', '0s', '315576000000s', '-315576000000.999999999s', '0.000000001s']) assertAccepted({ ttl: value });
      for (const value of ['1.5', '1m', '1.5 s', 3, '1.0000000001s', 's']) {
        assertStricterThanFromJson({ ttl: value }, 'ttl', 'expected a duration string in seconds, e.g. "1.5s"');
      }
      assertViolation({ ttl: '315576000001s' }, 'ttl', 'duration out of range (±315576000000s)');
    });

    it('take FieldMask as comma-separated lowerCamelCase paths', () => {
      for (const value of ['', 'name', 'shelf.shelfId,createTime']) assertAccepted({ updateMask: value });
      assertViolation({ updateMask: 'shelf_id' }, 'updateMask', 'expected a comma-separated string of lowerCamelCase field paths');
      assertViolation({ updateMask: ['name'] }, 'updateMask', /lowerCamelCase/);
      assertStricterThanFromJson({ updateMask: 'a,,b' }, 'updateMask', /lowerCamelCase/);
    });

    it('take Struct as an object, ListValue as an array and Value as any JSON', () => {
      assertAccepted({ metadata: { a: [1, { b: null }] }, history: [{}, []], extra: [1, { a: 'b' }] });
      assertViolation({ metadata: [] }, 'metadata', 'expected an object (google.protobuf.Struct)');
      assertViolation({ history: {} }, 'history', 'expected an array (google.protobuf.ListValue)');
      for (const extra of [1, 'x', true, null, {}, []]) assertAccepted({ extra });
    });

    it('take Empty as an object without fields', () => {
      assertAccepted({ marker: {} });
      assertViolation({ marker: { a: 1 } }, 'marker.a', 'unknown field');
      assertViolation({ marker: [] }, 'marker', 'expected an object (google.protobuf.Empty)');
    });

    it('take each wrapper as the JSON of the scalar it wraps', () => {
      assertAccepted({ wrappers: { doubleWrapper: '1.5', floatWrapper: 'Infinity', int64Wrapper: 5, uint64Wrapper: '18446744073709551615' } });
      assertAccepted({ wrappers: { int32Wrapper: '-1', uint32Wrapper: 1, boolWrapper: true, stringWrapper: 's', bytesWrapper: 'AA' } });
      assertViolation({ wrappers: { int64Wrapper: 'x' } }, 'wrappers.int64Wrapper', 'expected an integer string or number (int64)');
      assertViolation({ wrappers: { boolWrapper: 'true' } }, 'wrappers.boolWrapper', 'expected true or false');
      assertViolation({ wrappers: { uint32Wrapper: -1 } }, 'wrappers.uint32Wrapper', 'integer out of range (uint32)');
      assertViolation({ wrappers: { stringWrapper: {} } }, 'wrappers.stringWrapper', 'expected a string');
      assertViolation({ version: { value: '1' } }, 'version', 'expected an integer string or number (int64)');
    });

    describe('Any', () => {
      it('checks the packed message against the type named by "@type"', () => {
        assertAccepted({ detail: { '@type': 'type.googleapis.com/binding.v1.Money', units: '5' } });
        assertAccepted({ detail: { '@type': 'binding.v1.Money' } });
        assertViolation({ detail: { '@type': 'type.googleapis.com/binding.v1.Money', units: 'x', colour: 1 } }, 'detail.units', /int64/);
        assertViolation({ detail: { '@type': 'type.googleapis.com/binding.v1.Money', colour: 1 } }, 'detail.colour', 'unknown field');
      });

      it('checks types with their own JSON form under "value"', () => {
        assertAccepted({ detail: { '@type': 'type.googleapis.com/google.protobuf.Timestamp', value: '2024-01-01T00:00:00Z' } });
        assertAccepted({ detail: { '@type': 'type.googleapis.com/google.protobuf.Any', value: { '@type': 'binding.v1.Money', units: 1 } } });
        assertViolation({ detail: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '5' } }, 'detail.value', /duration/);
        assertViolation({ detail: { '@type': 'type.googleapis.com/google.protobuf.Duration' } }, 'detail.value', 'required field is missing');
      });

      it('reports unknown types, missing and malformed "@type"', () => {
        assertViolation({ detail: { '@type': 'type.googleapis.com/acme.v1.Nope' } }, 'detail["@type"]', 'unknown type "type.googleapis.com/acme.v1.Nope"');
        assertViolation({ detail: { units: 1 } }, 'detail', 'expected an object with "@type" (google.protobuf.Any)');
        assertViolation({ details: [{ '@type': 'type.googleapis.com/' }] }, 'details[0]["@type"]', /expected a type URL/);
        assertViolation({ detail: { '@type': 5 } }, 'detail["@type"]', /expected a type URL/);
        assertViolation({ detail: 'x' }, 'detail', 'expected an object with "@type" (google.protobuf.Any)');
      });

      it('accepts {} as an empty Any', () => {
        assertAccepted({ detail: {}, details: [{}] });
      });

      it('accepts any "@type" when no registry is given', () => {
        assert.deepEqual(check({ detail: { '@type': 'type.googleapis.com/acme.v1.Nope', x: 1 } }, { allowUnknownFields: false }), []);
      });
    });
  });

  describe('required fields', () => {
    const required: ValidationOptions = {
      allowUnknownFields: false,
      registry,
      requiredFields: new Set(['binding.v1.Order.name', 'binding.v1.Order.quantity', 'binding.v1.Order.required_tags', 'binding.v1.Money.currency_code']),
    };

    it('reports every missing required field by its JSON path', () => {
      assert.deepEqual(check({ items: [{ price: {} }], cash: {} }, required), [
        { field: 'items[0].price.currencyCode', description: 'required field is missing' },
        { field: 'cash.currencyCode', description: 'required field is missing' },
        { field: 'name', description: 'required field is missing' },
        { field: 'quantity', description: 'required field is missing' },
        { field: 'requiredTags', description: 'required field is missing' },
      ]);
    });

    it('treats a zero value of a field without presence as missing', () => {
      const violations = check({ name: '', quantity: '0', required_tags: [] }, required);
      assert.deepEqual(
        violations.map((v) => v.field),
        ['name', 'quantity', 'requiredTags'],
      );
      assert.deepEqual(check({ name: null, quantity: 0, requiredTags: null }, required).length, 3);
    });

    it('accepts required fields set by either name to non-zero values', () => {
      assertAccepted({ name: 'orders/1', quantity: 2, required_tags: ['a'], cash: { currency_code: 'EUR' } }, required);
    });

    it('counts a zero value as present for fields with explicit presence', () => {
      const options: ValidationOptions = { allowUnknownFields: false, requiredFields: new Set(['binding.v1.Order.note', 'binding.v1.Order.shelf']) };
      assert.deepEqual(check({ note: '', shelf: {} }, options), []);
      assert.deepEqual(
        check({}, options).map((v) => v.field),
        ['shelf', 'note'],
      );
    });

    it('checks enums against their zero value by name and by number', () => {
      const options: ValidationOptions = { allowUnknownFields: false, requiredFields: new Set(['binding.v1.Order.color']) };
      assert.equal(check({ color: 'COLOR_UNSPECIFIED' }, options).length, 1);
      assert.equal(check({ color: 0 }, options).length, 1);
      assert.deepEqual(check({ color: 'RED' }, options), []);
    });

    it('does not call an invalid value missing', () => {
      assert.deepEqual(check({ name: 'n', quantity: 'x', requiredTags: ['a'] }, required), [
        { field: 'quantity', description: 'expected an integer string or number (int64)' },
      ]);
    });
  });

  it('reports messages nested deeper than fromJson allows', () => {
    let json: Record<string, unknown> = { name: 'leaf' };
    for (let i = 0; i < 105; i++) json = { parent: json };
    const violations = check(json);
    assert.equal(violations.length, 1);
    assert.equal(violations[0]?.description, 'message nesting is too deep');
    assert.equal(violations[0]?.field, Array(100).fill('parent').join('.'));
  });

  it('lists every violation of a request, not just the first', () => {
    const violations = check({ color: 'PURPLE', tags: [1], scalars: { boolValue: 'no' }, nope: 1 });
    assert.deepEqual(
      violations.map((v) => v.field),
      ['color', 'tags[0]', 'scalars.boolValue', 'nope'],
    );
  });

  it('stops listing after 20 violations and counts the rest in a last entry', () => {
    const violations = check({ tags: Array.from({ length: 1000 }, () => 1) });
    assert.equal(violations.length, 21);
    assert.deepEqual(violations[19], { field: 'tags[19]', description: 'expected a string' });
    assert.deepEqual(violations[20], { field: '', description: '980 more violations not listed' });
  });

  it('validates other message types used as the request', () => {
    assertAccepted({ currencyCode: 'EUR', units: '1', nanos: 5 }, strict, Money);
    assert.deepEqual(check({ units: 1.5 }, strict, Money), [{ field: 'units', description: 'expected an integer string or number (int64)' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const wrapperScalars: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

const special = (n: number): number | string => (Number.isNaN(n) ? 'NaN' : n === Infinity ? 'Infinity' : n === -Infinity ? '-Infinity' : n);

/** Valid proto3 JSON for a scalar type, in its canonical and its alternative spellings. */
function scalarArb(type: string): fc.Arbitrary<unknown> {
  const int64 = (min: bigint, max: bigint) =>
    fc.oneof(
      fc.bigInt({ min, max }).map(String),
      fc.integer().filter((n) => BigInt(n) >= min),
    );
  switch (type) {
    case 'double':
      return fc.oneof(fc.double().map(special), fc.double({ noNaN: true, noDefaultInfinity: true }).map(String));
    case 'float':
      return fc.float().map(special);
    case 'int32':
    case 'sint32':
    case 'sfixed32':
      return fc.oneof(fc.integer(), fc.integer().map(String));
    case 'uint32':
    case 'fixed32':
      return fc.oneof(fc.nat(), fc.integer({ min: 0, max: 0xffffffff }).map(String));
    case 'int64':
    case 'sint64':
    case 'sfixed64':
      return int64(-(2n ** 63n), 2n ** 63n - 1n);
    case 'uint64':
    case 'fixed64':
      return int64(0n, 2n ** 64n - 1n);
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 8 });
    case 'bytes':
      return fc.tuple(fc.uint8Array({ maxLength: 8 }), fc.boolean()).map(([bytes, url]) => Buffer.from(bytes).toString(url ? 'base64url' : 'base64'));
    default:
      throw new Error(`no arbitrary for ${type}`);
  }
}

const timestampArb = fc
  .tuple(fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 999_999_999 }))
  .map(([date, nanos]) => date.toISOString().replace(/\.\d{3}Z$/, `.${String(nanos).padStart(9, '0')}Z`));
const durationArb = fc
  .tuple(fc.bigInt({ min: -315576000000n, max: 315576000000n }), fc.integer({ min: 0, max: 999_999_999 }))
  .map(([seconds, nanos]) => `${seconds}.${String(nanos).padStart(9, '0')}s`);
const fieldMaskArb = fc.array(fc.array(fc.stringMatching(/^[a-z]{1,5}(?:[A-Z][a-z]{1,4})?$/), { minLength: 1, maxLength: 3 }).map((p) => p.join('.')), { maxLength: 3 }).map((paths) => paths.join(','));

function messageArb(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  switch (desc.typeName) {
    case 'google.protobuf.Timestamp':
      return timestampArb;
    case 'google.protobuf.Duration':
      return durationArb;
    case 'google.protobuf.FieldMask':
      return fieldMaskArb;
    case 'google.protobuf.Struct':
      return fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
    case 'google.protobuf.Value':
      return fc.jsonValue({ maxDepth: 2 });
    case 'google.protobuf.ListValue':
      return fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 });
    case 'google.protobuf.Any':
      return fc.oneof(
        messageArb(Money, depth + 1).map((m) => ({ '@type': 'type.googleapis.com/binding.v1.Money', ...(m as object) })),
        durationArb.map((value) => ({ '@type': 'type.googleapis.com/google.protobuf.Duration', value })),
        fc.constant({}),
      );
  }
  const wrapped = wrapperScalars[desc.typeName];
  if (wrapped !== undefined) return scalarArb(wrapped);

  const plain: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of desc.fields) {
    if (field.oneof) continue;
    const arb = fieldArb(field, depth);
    if (arb) plain[field.jsonName] = arb;
  }
  const oneofs = desc.oneofs.map((oneof) => {
    const members = oneof.fields.flatMap((f) => fieldArb(f, depth)?.map((value) => [f.jsonName, value] as const) ?? []);
    return fc.option(fc.oneof(...members), { nil: undefined });
  });
  return fc.tuple(fc.record(plain, { requiredKeys: [] }), ...oneofs).map(([record, ...chosen]) => {
    const json: Record<string, unknown> = { ...record };
    for (const entry of chosen) if (entry) json[entry[0]] = entry[1];
    return json;
  });
}

function singleArb(field: DescMessage['fields'][number], depth: number): fc.Arbitrary<unknown> | undefined {
  if (field.message) return depth >= 2 && !field.message.typeName.startsWith('google.protobuf.') ? undefined : messageArb(field.message, depth + 1);
  if (field.enum) return fc.constantFrom(...field.enum.values.map((v) => v.name), ...field.enum.values.map((v) => v.number), 42);
  return scalarArb(scalarName(field.scalar!));
}

function fieldArb(field: DescMessage['fields'][number], depth: number): fc.Arbitrary<unknown> | undefined {
  const item = singleArb(field, depth);
  if (!item) return undefined;
  if (field.fieldKind === 'list') return fc.array(item, { maxLength: 3 });
  if (field.fieldKind === 'map') {
    const key = scalarArb(scalarName(field.mapKey)).map(String);
    const integerKey = field.mapKey !== 8 /* bool */ && field.mapKey !== 9; /* string */
    const canonicalKey = integerKey ? key.map((k) => String(BigInt(k))) : key;
    return fc.dictionary(canonicalKey, item, { maxKeys: 3 });
  }
  return item;
}

const scalarNamesByNumber: Record<number, string> = {
  1: 'double', 2: 'float', 3: 'int64', 4: 'uint64', 5: 'int32', 6: 'fixed64', 7: 'fixed32', 8: 'bool',
  9: 'string', 12: 'bytes', 13: 'uint32', 15: 'sfixed32', 16: 'sfixed64', 17: 'sint32', 18: 'sint64',
};
function scalarName(scalar: number): string {
  return scalarNamesByNumber[scalar]!;
}

/** Values that are wrong, or nearly right, for some field type. */
const junkArb = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom<unknown>(
    '', ' 1', '1e3', '0x10', 'NaN', '-0', '1.5', 1.5, '9223372036854775808', '18446744073709551616', -1, 4294967296, 2 ** 53, 1e39,
    'RED', 'PURPLE', 7, 'true', true, null, [null], [], {}, 'a\ud800', 'a', 'aGVsbG8', '2024-02-30T00:00:00Z', '2024-01-01T00:00:00Z',
    '1.5s', '1m', 'a_b', 'aB', { '@type': 'binding.v1.Money', units: 'x' }, { '@type': 'nope' }, { a: null }, { '1': 1 }, { true: 'x' },
  ),
);

const orderKeys = Order.fields.flatMap((f) => [f.jsonName, f.name]);
const scalarsKeys = registry.getMessage('binding.v1.Scalars')!.fields.map((f) => f.jsonName);
const wrappersKeys = registry.getMessage('binding.v1.Wrappers')!.fields.map((f) => f.jsonName);

describe('validateMessageJson properties', () => {
  const orderArb = messageArb(Order, 0) as fc.Arbitrary<Record<string, unknown>>;

  it('reports nothing for random valid orders, nor for their canonical JSON after fromJson and toJson', () => {
    fc.assert(
      fc.property(orderArb, (json) => {
        assert.deepEqual(check(json), []);
        const canonical = toJson(Order, fromJson(Order, json as JsonValue, { registry }), { registry });
        assert.deepEqual(check(canonical), []);
        assert.deepEqual(check(parseJsonExact(JSON.stringify(canonical))), []);
      }),
      { numRuns: 200, interruptAfterTimeLimit: 4000 },
    );
  });

  it('never accepts what fromJson rejects, for random orders with wrong values mixed in', () => {
    const mutation = (keys: string[]) => fc.array(fc.tuple(fc.constantFrom(...keys), junkArb), { maxLength: 3 });
    fc.assert(
      fc.property(orderArb, mutation(orderKeys), mutation(scalarsKeys), mutation(wrappersKeys), fc.boolean(), (json, top, scalars, wrappers, allowUnknownFields) => {
        // Fresh objects: the arbitraries' values are shared between runs and must not change.
        const order: Record<string, unknown> = {
          ...json,
          scalars: Object.fromEntries([...Object.entries(json['scalars'] ?? {}), ...scalars]),
          wrappers: Object.fromEntries([...Object.entries(json['wrappers'] ?? {}), ...wrappers]),
        };
        for (const [key, value] of top) order[key] = value;
        const violations = check(order, { allowUnknownFields, registry });
        if (violations.length === 0) fromJson(Order, order as JsonValue, { registry, ignoreUnknownFields: allowUnknownFields });
      }),
      { numRuns: 200, interruptAfterTimeLimit: 4000 },
    );
  });
});
