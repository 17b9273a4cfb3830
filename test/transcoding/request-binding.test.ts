import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { fromJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { validateMessageJson } from '../../src/transcoding/field-violations.js';
import { compileRequestBinding, RequestBindingError, type BindingSpec, type RequestBinding } from '../../src/transcoding/request-binding.js';

const protoDir = fileURLToPath(new URL('../fixtures/protos', import.meta.url));
const registry = buildFileRegistry(loadProtoSources([protoDir], ['binding/v1/orders.proto']));
const Order = registry.getMessage('binding.v1.Order')!;
const GetOrderRequest = registry.getMessage('binding.v1.GetOrderRequest')!;
const UpdateOrderRequest = registry.getMessage('binding.v1.UpdateOrderRequest')!;

const strict = { allowUnknownFields: false, maxJsonDepth: 64 };
const lenient = { allowUnknownFields: true, maxJsonDepth: 64 };

function compile(spec: Partial<BindingSpec>, desc: DescMessage = Order, options = strict): RequestBinding {
  return compileRequestBinding(desc, { body: undefined, pathFields: [], ...spec }, options);
}

function params(entries: Record<string, string> = {}): ReadonlyMap<string, string> {
  return new Map(Object.entries(entries));
}

/**
 * Builds, then proves the result is what the handler needs: the validator finds nothing and
 * fromJson decodes it.
 */
function build(binding: RequestBinding, path: Record<string, string>, query: string, body?: unknown, desc: DescMessage = Order, allowUnknownFields = false) {
  const json = binding.build(params(path), query, body);
  assert.deepEqual(validateMessageJson(desc, json, { allowUnknownFields, registry }), []);
  fromJson(desc, json as JsonValue, { registry, ignoreUnknownFields: allowUnknownFields });
  return json;
}

function violationsOf(binding: RequestBinding, path: Record<string, string>, query: string, body?: unknown) {
  try {
    binding.build(params(path), query, body);
  } catch (err) {
    assert.ok(err instanceof RequestBindingError, String(err));
    return err.violations;
  }
  assert.fail('expected a RequestBindingError');
}

function assertViolation(binding: RequestBinding, path: Record<string, string>, query: string, field: string, description: string | RegExp, body?: unknown): void {
  const violations = violationsOf(binding, path, query, body);
  assert.ok(
    violations.some((v) => v.field === field && (typeof description === 'string' ? v.description === description : description.test(v.description))),
    `expected "${field}": ${String(description)}, got ${JSON.stringify(violations)}`,
  );
}

describe('compileRequestBinding', () => {
  it('accepts nested path fields, path fields inside the body field and well-known scalar types', () => {
    compile({ pathFields: ['name', 'shelf.shelf_id', 'shelf.budget.currency_code'] });
    compile({ pathFields: ['order.name'], body: 'order' }, UpdateOrderRequest);
    compile({ pathFields: ['create_time', 'ttl', 'update_mask', 'version', 'color', 'scalars.bytes_value', 'wrappers.bool_wrapper'] });
  });

  it('rejects a path field that names no field', () => {
    assert.throws(() => compile({ pathFields: ['nope'] }), /path variable "nope": "nope" is not a field of binding\.v1\.Order/);
    assert.throws(() => compile({ pathFields: ['shelf.nope'] }), /"nope" is not a field of binding\.v1\.Shelf/);
  });

  it('rejects path fields written with JSON names, since templates use proto names', () => {
    assert.throws(() => compile({ pathFields: ['extRef'] }), /"extRef" is not a field/);
    assert.throws(() => compile({ pathFields: ['shelf.shelfId'] }), /"shelfId" is not a field/);
  });

  it('rejects path fields that go through something other than a singular message', () => {
    assert.throws(() => compile({ pathFields: ['name.x'] }), /"name" is not a singular message field/);
    assert.throws(() => compile({ pathFields: ['items.sku'] }), /"items" is not a singular message field/);
    assert.throws(() => compile({ pathFields: ['create_time.seconds'] }), /"create_time" is not a singular message field/);
  });

  it('rejects path fields that are repeated, maps, messages or JSON-valued well-known types', () => {
    for (const field of ['tags', 'labels', 'shelf', 'metadata', 'extra', 'history', 'marker', 'detail', 'checkpoints']) {
      assert.throws(() => compile({ pathFields: [field] }), /cannot be bound by the path/, field);
    }
  });

  it('rejects a body field that is not a top-level field', () => {
    assert.throws(() => compile({ body: 'nope' }), /body field "nope" is not a field of binding\.v1\.Order/);
    assert.throws(() => compile({ body: 'shelf.genre' }), /body field "shelf\.genre"/);
    assert.throws(() => compile({ body: 'extRef' }), /body field "extRef"/);
  });

  it('rejects a field bound by both the path and the body', () => {
    assert.throws(() => compile({ body: 'name', pathFields: ['name'] }), /field "name" is bound by both the path and the body/);
  });

  it('rejects the same path field twice', () => {
    assert.throws(() => compile({ pathFields: ['name', 'name'] }), /path variable "name" appears twice/);
  });

  it('rejects path and body fields that set two members of one oneof', () => {
    assert.throws(() => compile({ pathFields: ['card_token', 'voucher_id'] }), /oneof "payment"/);
    assert.throws(() => compile({ pathFields: ['card_token', 'cash.currency_code'] }), /oneof "payment"/);
    assert.throws(() => compile({ body: 'cash', pathFields: ['voucher_id'] }), /body field "cash" and path variable "voucher_id" set two fields of oneof "payment"/);
  });

  it('accepts two path fields inside the same oneof member', () => {
    compile({ pathFields: ['cash.currency_code', 'cash.units'] });
  });
});

describe('RequestBinding.build', () => {
  describe('path variables', () => {
    it('are set under JSON names, nested paths as nested objects', () => {
      const binding = compile({ pathFields: ['name', 'shelf.shelf_id', 'shelf.genre', 'external_ref'] });
      assert.deepEqual(build(binding, { name: 'orders/1', 'shelf.shelf_id': 's 1', 'shelf.genre': 'sci-fi', external_ref: 'r' }, ''), {
        name: 'orders/1',
        shelf: { shelfId: 's 1', genre: 'sci-fi' },
        extRef: 'r',
      });
    });

    it('are coerced to the JSON form of the field type', () => {
      const binding = compile({
        pathFields: ['scalars.bool_value', 'scalars.int64_value', 'scalars.uint32_value', 'scalars.double_value', 'scalars.bytes_value', 'color', 'create_time', 'ttl', 'update_mask', 'version'],
      });
      const json = build(
        binding,
        {
          'scalars.bool_value': 'false',
          'scalars.int64_value': '-9223372036854775808',
          'scalars.uint32_value': '7',
          'scalars.double_value': 'NaN',
          'scalars.bytes_value': 'aGk',
          color: 'BLUE',
          create_time: '2024-01-31T12:00:00Z',
          ttl: '1.5s',
          update_mask: 'name,shelf.shelfId',
          version: '12',
        },
        '',
      );
      assert.deepEqual(json, {
        scalars: { boolValue: false, int64Value: '-9223372036854775808', uint32Value: '7', doubleValue: 'NaN', bytesValue: 'aGk' },
        color: 'BLUE',
        createTime: '2024-01-31T12:00:00Z',
        ttl: '1.5s',
        updateMask: 'name,shelf.shelfId',
        version: '12',
      });
    });

    it('turn numeric enum values into numbers', () => {
      assert.deepEqual(build(compile({ pathFields: ['color'] }), { color: '2' }, ''), { color: 2 });
    });

    it('report values that do not fit the field type, all at once', () => {
      const binding = compile({ pathFields: ['scalars.bool_value', 'scalars.int32_value', 'color', 'create_time', 'wrappers.int64_wrapper'] });
      const violations = violationsOf(binding, {
        'scalars.bool_value': 'yes',
        'scalars.int32_value': '2147483648',
        color: 'PURPLE',
        create_time: 'yesterday',
        'wrappers.int64_wrapper': '1.5',
      }, '');
      assert.deepEqual(violations, [
        { field: 'scalars.boolValue', description: 'expected true or false' },
        { field: 'scalars.int32Value', description: 'integer out of range (int32)' },
        { field: 'color', description: 'invalid value "PURPLE" for enum binding.v1.Color' },
        { field: 'createTime', description: 'expected an RFC 3339 timestamp string, e.g. "2024-01-31T12:00:00Z"' },
        { field: 'wrappers.int64Wrapper', description: 'expected an integer string or number (int64)' },
      ]);
    });

    it('accept unknown enum names when unknown fields are allowed', () => {
      build(compile({ pathFields: ['color'] }, Order, lenient), { color: 'PURPLE' }, '', undefined, Order, true);
    });
  });

  describe('query parameters', () => {
    const get = compile({ pathFields: ['name'] });

    it('take dotted keys by proto name or JSON name per segment', () => {
      assert.deepEqual(build(get, { name: 'orders/1' }, 'shelf.shelf_id=a&shelf.genre=b&scalars.int32_value=5&scalars.boolValue=true&extRef=r&shelf.budget.currency_code=EUR'), {
        name: 'orders/1',
        shelf: { shelfId: 'a', genre: 'b', budget: { currencyCode: 'EUR' } },
        scalars: { int32Value: '5', boolValue: true },
        extRef: 'r',
      });
    });

    it('decode "+" as a space and percent escapes, in keys and values', () => {
      assert.deepEqual(build(get, {}, 'note=a+b%2Bc%20d%E2%98%83&shelf%2Egenre=x'), { note: 'a b+c d☃', shelf: { genre: 'x' } });
    });

    it('report malformed percent escapes', () => {
      assertViolation(get, {}, 'note=%ZZ', 'note', 'invalid percent-encoding in query parameter');
      assertViolation(get, {}, 'no%te=1', 'no%te', 'invalid percent-encoding in query parameter');
      assertViolation(get, {}, 'note=%E2%98', 'note', 'invalid percent-encoding in query parameter');
    });

    it('ignore empty keys and empty parameters, and read a key without "=" as an empty value', () => {
      assert.deepEqual(build(get, {}, '=x&&note&'), { note: '' });
      assert.deepEqual(build(get, {}, ''), {});
    });

    it('coerce values like path variables', () => {
      const json = build(
        get,
        {},
        'color=1&scalars.sint64_value=-5&scalars.float_value=1e3&scalars.bytes_value=-_8&ttl=3s&update_mask=a.b&create_time=2024-01-01T00:00:00%2B01:00&wrappers.bool_wrapper=false&wrappers.uint64_wrapper=18446744073709551615&priority=0',
      );
      assert.deepEqual(json, {
        color: 1,
        scalars: { sint64Value: '-5', floatValue: '1e3', bytesValue: '-_8' },
        ttl: '3s',
        updateMask: 'a.b',
        createTime: '2024-01-01T00:00:00+01:00',
        wrappers: { boolWrapper: false, uint64Wrapper: '18446744073709551615' },
        priority: '0',
      });
    });

    it('parse Struct, Value and ListValue values as JSON text', () => {
      const json = build(get, {}, `metadata=${encodeURIComponent('{"a":[1,null],"big":12345678901234567890}')}&extra=5&history=${encodeURIComponent('["x",true]')}`);
      assert.deepEqual(json, { metadata: { a: [1, null], big: '12345678901234567890' }, extra: 5, history: ['x', true] });
      assertViolation(get, {}, 'extra=hello', 'extra', 'expected JSON text (google.protobuf.Value)');
      assertViolation(get, {}, 'metadata=%5B1%5D', 'metadata', 'expected an object (google.protobuf.Struct)');
      assertViolation(get, {}, 'history=%7B%7D', 'history', 'expected an array (google.protobuf.ListValue)');
    });

    it('report values that do not fit the field type', () => {
      assertViolation(get, {}, 'scalars.bool_value=1', 'scalars.boolValue', 'expected true or false');
      assertViolation(get, {}, 'scalars.uint64_value=-1', 'scalars.uint64Value', 'integer out of range (uint64)');
      assertViolation(get, {}, 'ttl=5m', 'ttl', 'expected a duration string in seconds, e.g. "1.5s"');
      assertViolation(get, {}, 'update_mask=shelf_id', 'updateMask', /lowerCamelCase/);
      assertViolation(get, {}, 'color=PURPLE', 'color', 'invalid value "PURPLE" for enum binding.v1.Color');
      assertViolation(get, {}, 'wrappers.int64_wrapper=12345678901234567890', 'wrappers.int64Wrapper', 'integer out of range (int64)');
      assertViolation(get, {}, 'scalars.bytes_value=a+b', 'scalars.bytesValue', 'expected a base64 string (bytes)');
    });

    it('fill repeated fields from repeated keys, without splitting on commas', () => {
      assert.deepEqual(build(get, {}, 'tags=a&tags=b,c&colors=RED&colors=2&ids=1&ids=-9223372036854775808&checkpoints=2024-01-01T00:00:00Z'), {
        tags: ['a', 'b,c'],
        colors: ['RED', 2],
        ids: ['1', '-9223372036854775808'],
        checkpoints: ['2024-01-01T00:00:00Z'],
      });
      assertViolation(get, {}, 'ids=1&ids=x', 'ids[1]', 'expected an integer string or number (int64)');
    });

    it('fill map fields from key[mapKey]=value, map keys checked against the key type', () => {
      assert.deepEqual(build(get, {}, 'labels[env]=prod&labels[a.b]=c&labels[]=empty&counts[7]=-1&flags[true]=on&colorByRank[-3]=GREEN&timeouts[read]=1s&attributes[x]=%5B1%5D'), {
        labels: { env: 'prod', 'a.b': 'c', '': 'empty' },
        counts: { '7': '-1' },
        flags: { true: 'on' },
        colorByRank: { '-3': 'GREEN' },
        timeouts: { read: '1s' },
        attributes: { x: [1] },
      });
      assertViolation(get, {}, 'flags[yes]=x', 'flags["yes"]', 'invalid map key: expected "true" or "false"');
      assertViolation(get, {}, 'counts[-1]=1', 'counts["-1"]', 'invalid map key: integer out of range (uint64)');
      assertViolation(get, {}, 'colorByRank[one]=RED', 'colorByRank["one"]', 'invalid map key: expected an integer string (int32)');
      assertViolation(get, {}, 'labels[k]=%ZZ', 'labels[k]', 'invalid percent-encoding in query parameter');
    });

    it('report a map key given twice, integer keys compared by value', () => {
      assertViolation(get, {}, 'labels[a]=1&labels[a]=2', 'labels["a"]', 'map key is set more than once');
      assertViolation(get, {}, 'counts[7]=1&counts[007]=2', 'counts["007"]', 'map key is set more than once');
    });

    it('keep a "__proto__" map key as an own key', () => {
      const json = build(get, {}, 'labels[__proto__]=x');
      const labels = json['labels'] as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(labels), Object.prototype);
      assert.deepEqual(Object.keys(labels), ['__proto__']);
    });

    it('report map syntax misused', () => {
      assertViolation(get, {}, 'labels=x', 'labels', 'expected labels[key]=value for a map field');
      assertViolation(get, {}, 'tags[0]=x', 'tags', 'field is not a map');
      assertViolation(get, {}, 'pricesById[1]=x', 'pricesById', 'field cannot be set by a query parameter');
    });

    it('report a singular field given twice', () => {
      assertViolation(get, {}, 'note=a&note=b', 'note', 'field is set more than once');
      assertViolation(get, {}, 'shelf.genre=a&shelf.genre=b', 'shelf.genre', 'field is set more than once');
      assertViolation(get, {}, 'external_ref=a&extRef=b', 'extRef', 'field is set more than once');
    });

    it('report two members of one oneof', () => {
      assertViolation(get, {}, 'card_token=x&voucher_id=5', 'voucherId', 'oneof "payment" is also set by "cardToken"');
      assertViolation(get, {}, 'cash.units=5&cardToken=x', 'cardToken', 'oneof "payment" is also set by "cash"');
      assertViolation(get, {}, 'voucherColor=RED&cash.units=5', 'cash', 'oneof "payment" is also set by "voucherColor"');
      assert.deepEqual(build(get, {}, 'cash.units=5&cash.currency_code=EUR'), { cash: { units: '5', currencyCode: 'EUR' } });
    });

    it('report unknown parameters by name, or ignore them when unknown fields are allowed', () => {
      assertViolation(get, {}, 'nope=1', 'nope', 'unknown query parameter');
      assertViolation(get, {}, 'shelf.nope=1', 'shelf.nope', 'unknown query parameter');
      assertViolation(get, {}, 'labels[a=1', 'labels[a', 'unknown query parameter');
      const lenientGet = compile({ pathFields: ['name'] }, Order, lenient);
      assert.deepEqual(build(lenientGet, {}, 'nope=1&shelf.nope=2&note=n', undefined, Order, true), { note: 'n' });
    });

    it('reach only through singular messages and leave whole messages to their fields', () => {
      assertViolation(get, {}, 'items.sku=x', 'items', 'only fields of singular messages can be set by query parameters');
      assertViolation(get, {}, 'create_time.seconds=1', 'createTime', 'only fields of singular messages can be set by query parameters');
      assertViolation(get, {}, 'shelf=x', 'shelf', /a message cannot be set as a whole/);
      assertViolation(get, {}, 'marker=x', 'marker', /a message cannot be set as a whole/);
      assertViolation(get, {}, 'detail=x', 'detail', 'field cannot be set by a query parameter');
      assertViolation(get, {}, 'details=x', 'details', 'field cannot be set by a query parameter');
    });

    it('report fields that the path binds', () => {
      const binding = compile({ pathFields: ['name', 'shelf.shelf_id'] });
      assertViolation(binding, { name: 'n', 'shelf.shelf_id': 's' }, 'name=x', 'name', 'field is bound by the path');
      assertViolation(binding, { name: 'n', 'shelf.shelf_id': 's' }, 'shelf.shelfId=x', 'shelf.shelfId', 'field is bound by the path');
      assert.deepEqual(build(binding, { name: 'n', 'shelf.shelf_id': 's' }, 'shelf.genre=g'), { name: 'n', shelf: { shelfId: 's', genre: 'g' } });
    });

    it('report a oneof member when the path sets another', () => {
      const binding = compile({ pathFields: ['card_token'] });
      assertViolation(binding, { card_token: 't' }, 'voucher_id=1', 'voucherId', 'oneof "payment" is also set by "cardToken"');
    });

    it('report fields inside the body field, and every field when the body is "*"', () => {
      const update = compile({ body: 'order', pathFields: ['order.name'] }, UpdateOrderRequest);
      assertViolation(update, { 'order.name': 'n' }, 'order.note=x', 'order', 'field is bound by the body', {});
      assert.deepEqual(build(update, { 'order.name': 'n' }, 'update_mask=note&allowMissing=true', { note: 'x' }, UpdateOrderRequest), {
        order: { note: 'x', name: 'n' },
        updateMask: 'note',
        allowMissing: true,
      });
      const create = compile({ body: '*' });
      assertViolation(create, {}, 'note=x', 'note', 'field is bound by the body', {});
      assertViolation(create, {}, 'nope=x', 'nope', 'unknown query parameter', {});
    });

    it('report a oneof member when the body field is another', () => {
      const binding = compile({ body: 'cash' });
      assertViolation(binding, {}, 'card_token=x', 'cardToken', 'oneof "payment" is also set by "cash"', { units: 1 });
    });
  });

  describe('body', () => {
    it('"*" makes the body object the base and adds path values to it', () => {
      const binding = compile({ body: '*', pathFields: ['shelf.shelf_id'] });
      assert.deepEqual(build(binding, { 'shelf.shelf_id': 's1' }, '', { name: 'orders/1', shelf: { genre: 'g' } }), {
        name: 'orders/1',
        shelf: { genre: 'g', shelfId: 's1' },
      });
    });

    it('"*" leaves the caller\'s body object unchanged', () => {
      const binding = compile({ body: '*', pathFields: ['shelf.shelf_id', 'name'] });
      const body = { shelf: { genre: 'g' }, note: 'n' };
      build(binding, { 'shelf.shelf_id': 's1', name: 'x' }, '', body);
      assert.deepEqual(body, { shelf: { genre: 'g' }, note: 'n' });
    });

    it('"*" keeps the spelling the body used for a message the path reaches into', () => {
      const binding = compile({ body: '*', pathFields: ['shelf.budget.currency_code'] });
      assert.deepEqual(build(binding, { 'shelf.budget.currency_code': 'EUR' }, '', { shelf: { budget: { units: '1' } } }), {
        shelf: { budget: { units: '1', currencyCode: 'EUR' } },
      });
      const snake = compile({ body: '*', pathFields: ['scalars.int32_value'] });
      assert.deepEqual(build(snake, { 'scalars.int32_value': '1' }, '', { scalars: { bool_value: true } }), { scalars: { bool_value: true, int32Value: '1' } });
    });

    it('"*" without a body starts from an empty object', () => {
      assert.deepEqual(build(compile({ body: '*', pathFields: ['name'] }), { name: 'n' }, ''), { name: 'n' });
    });

    it('"*" requires a JSON object', () => {
      const binding = compile({ body: '*' });
      for (const body of [[], 'x', 5, null]) {
        assert.deepEqual(violationsOf(binding, {}, '', body), [{ field: '', description: 'expected a JSON object as the request body' }]);
      }
    });

    it('reports a field the body sets that the path also binds, by either spelling', () => {
      const binding = compile({ body: '*', pathFields: ['name', 'shelf.shelf_id'] });
      assertViolation(binding, { name: 'a' }, '', 'name', 'field is set by both the path and the body', { name: 'b' });
      assertViolation(binding, { 'shelf.shelf_id': 'a' }, '', 'shelf.shelfId', 'field is set by both the path and the body', { shelf: { shelf_id: 'b' } });
    });

    it('lets the path fill a field the body sets to null', () => {
      const binding = compile({ body: '*', pathFields: ['name'] });
      assert.deepEqual(build(binding, { name: 'a' }, '', { name: null }), { name: 'a' });
    });

    it('reports a message on the path that the body sets to something other than an object', () => {
      const binding = compile({ body: '*', pathFields: ['shelf.shelf_id'] });
      assertViolation(binding, { 'shelf.shelf_id': 'a' }, '', 'shelf', 'expected an object (binding.v1.Shelf)', { shelf: 'x' });
      assert.deepEqual(build(binding, { 'shelf.shelf_id': 'a' }, '', { shelf: null }), { shelf: { shelfId: 'a' } });
    });

    it('reports a oneof member in the body when the path sets another', () => {
      const binding = compile({ body: '*', pathFields: ['voucher_id'] });
      assertViolation(binding, { voucher_id: '1' }, '', 'voucherId', 'oneof "payment" is also set by "card_token"', { card_token: 'x' });
    });

    it('a named field holds the body under its JSON name, with path values inside it', () => {
      const update = compile({ body: 'order', pathFields: ['order.name'] }, UpdateOrderRequest);
      assert.deepEqual(build(update, { 'order.name': 'orders/1' }, '', { note: 'n' }, UpdateOrderRequest), { order: { note: 'n', name: 'orders/1' } });
      assertViolation(update, { 'order.name': 'orders/1' }, '', 'order.name', 'field is set by both the path and the body', { name: 'orders/2' });
      assertViolation(update, { 'order.name': 'orders/1' }, '', 'order', 'expected an object (binding.v1.Order)', ['x']);
    });

    it('a named repeated or scalar field takes the body as its value', () => {
      assert.deepEqual(build(compile({ body: 'items' }), {}, '', [{ sku: 'a' }]), { items: [{ sku: 'a' }] });
      assert.deepEqual(build(compile({ body: 'external_ref' }), {}, '', 'r'), { extRef: 'r' });
    });

    it('is left out when the request has none', () => {
      assert.deepEqual(build(compile({ body: 'order' }, UpdateOrderRequest), {}, 'allow_missing=true', undefined, UpdateOrderRequest), { allowMissing: true });
    });
  });

  it('binds the realistic routes of the fixture service end to end', () => {
    const getOrder = compile({ pathFields: ['name'] }, GetOrderRequest);
    assert.deepEqual(build(getOrder, { name: 'orders/7' }, 'read_mask=name,shelf.shelfId', undefined, GetOrderRequest), {
      name: 'orders/7',
      readMask: 'name,shelf.shelfId',
    });
    const createOrder = compile({ body: '*', pathFields: ['shelf.shelf_id'] });
    const created = build(createOrder, { 'shelf.shelf_id': 's9' }, '', {
      name: 'orders/8',
      items: [{ sku: 'x', price: { currencyCode: 'EUR', units: '12345678901234567890'.slice(0, 18) } }],
      createTime: '2024-05-01T10:00:00Z',
      detail: { '@type': 'type.googleapis.com/binding.v1.Money', units: '1' },
    });
    assert.equal((created['shelf'] as Record<string, unknown>)['shelfId'], 's9');
  });

  it('lists at most 20 problems, and how many more there are, in the violations and the message', () => {
    const binding = compile({});
    const query = Array.from({ length: 500 }, (_, i) => `nope${i}=1`).join('&');
    assert.throws(
      () => binding.build(params(), query, undefined),
      (err: unknown) => {
        assert.ok(err instanceof RequestBindingError);
        assert.equal(err.violations.length, 21);
        assert.deepEqual(err.violations[19], { field: 'nope19', description: 'unknown query parameter' });
        assert.deepEqual(err.violations[20], { field: '', description: '480 more violations not listed' });
        assert.match(err.message, /nope19: unknown query parameter; 480 more violations not listed$/);
        return true;
      },
    );
  });

  it('reports every problem of a request in one error with a readable message', () => {
    const binding = compile({ pathFields: ['scalars.bool_value'] });
    assert.throws(
      () => binding.build(params({ 'scalars.bool_value': 'maybe' }), 'nope=1&color=PURPLE', undefined),
      (err: unknown) => {
        assert.ok(err instanceof RequestBindingError);
        assert.equal(err.name, 'RequestBindingError');
        assert.equal(err.violations.length, 3);
        assert.equal(
          err.message,
          'invalid request: scalars.boolValue: expected true or false; nope: unknown query parameter; color: invalid value "PURPLE" for enum binding.v1.Color',
        );
        return true;
      },
    );
  });
});
