import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  create,
  createFileRegistry,
  fromBinary,
  fromJson,
  ScalarType,
  toBinary,
  toJsonString,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonValue,
  type Message,
  type Registry,
} from '@bufbuild/protobuf';
import { anyPack, DurationSchema, FileDescriptorProtoSchema, isWrapperDesc, TimestampSchema } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { float32Rewriter } from '../../src/transcoding/float32-output.js';
import { compileJsonWriter } from '../../src/transcoding/json-writer.js';
import { repoRoot } from '../support/gateway.js';

const registry = buildFileRegistry(
  loadProtoSources([path.join(repoRoot, 'test/fixtures/protos')], ['jsonwriter/v1/sample.proto', 'jsonwriter/v1/legacy.proto']),
);
const message = (name: string): DescMessage => registry.getMessage(`jsonwriter.v1.${name}`)!;
const sample = message('Sample');
const legacy = message('Legacy');

type Outcome = { json: string } | { threw: true };

/** What responses were rendered with before the writer: the float rewrite (which mutates), then toJsonString. */
function pipeline(desc: DescMessage, msg: Message, withRegistry: Registry | undefined): Outcome {
  try {
    float32Rewriter(desc)?.(msg as unknown as Record<string, unknown>);
    return { json: toJsonString(desc, msg, { alwaysEmitImplicit: true, registry: withRegistry }) };
  } catch {
    return { threw: true };
  }
}

function written(desc: DescMessage, msg: Message, withRegistry: Registry | undefined): Outcome {
  const write = compileJsonWriter(desc, withRegistry);
  assert.ok(write, `no writer for ${desc.typeName}`);
  try {
    return { json: write(msg) };
  } catch {
    return { threw: true };
  }
}

/** Every own value, exactly (0.1 and 0.10000000149011612 differ, -0 is not 0). */
function snapshot(msg: Message): string {
  return inspect(msg, { depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity });
}

/** The writer's output equals the pipeline's, and the writer leaves the message as it was. */
function assertSameAsPipeline(desc: DescMessage, msg: Message, withRegistry: Registry | undefined): Outcome {
  const before = snapshot(msg);
  const outcome = written(desc, msg, withRegistry);
  assert.equal(snapshot(msg), before, 'the writer changed the message');
  assert.deepEqual(outcome, pipeline(desc, msg, withRegistry));
  return outcome;
}

// Random messages built from the descriptors, with the edge values proto3 JSON has rules for.

const int64Edges = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n];
const doubleArb = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE));
const scalarArbs: Record<ScalarType, fc.Arbitrary<unknown>> = {
  [ScalarType.DOUBLE]: doubleArb,
  // fc.float() gives float32 values (what a decoded float holds); doubles cover hand-built
  // messages (within the float32 range, or the message cannot be encoded to binary).
  [ScalarType.FLOAT]: fc.oneof(
    fc.float(),
    fc.double({ min: -3.4e38, max: 3.4e38 }),
    fc.constantFrom(Math.fround(0.1), Math.fround(-3.4e38), Math.fround(1e-45), Math.fround(16777217)),
  ),
  [ScalarType.INT32]: fc.integer(),
  [ScalarType.SINT32]: fc.integer(),
  [ScalarType.SFIXED32]: fc.integer(),
  [ScalarType.UINT32]: fc.nat({ max: 2 ** 32 - 1 }),
  [ScalarType.FIXED32]: fc.nat({ max: 2 ** 32 - 1 }),
  [ScalarType.INT64]: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...int64Edges)),
  [ScalarType.SINT64]: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...int64Edges)),
  [ScalarType.SFIXED64]: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(...int64Edges)),
  [ScalarType.UINT64]: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 64n - 1n)),
  [ScalarType.FIXED64]: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 2n ** 64n - 1n)),
  [ScalarType.BOOL]: fc.boolean(),
  [ScalarType.STRING]: fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom('', 'é ü 中文 😀', '\u0000\u0001\u001f"\\/\b\f\n\r\t', '\u2028\u2029</script>', '__proto__'),
  ),
  [ScalarType.BYTES]: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.constant(new Uint8Array(0))),
};

function mapKeyArb(type: ScalarType): fc.Arbitrary<string> {
  if (type === ScalarType.BOOL) return fc.constantFrom('true', 'false');
  if (type === ScalarType.STRING) return scalarArbs[ScalarType.STRING] as fc.Arbitrary<string>;
  return scalarArbs[type].map(String);
}

function enumArb(desc: DescEnum): fc.Arbitrary<number> {
  // Open enums keep numbers they do not define.
  return fc.oneof(fc.constantFrom(...desc.values.map((v) => v.number)), fc.integer({ min: -5, max: 50 }));
}

const jsonObjectArb = fc.oneof(
  { weight: 30, arbitrary: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom({ bad: [1, Number.NaN] }, { bad: { deep: -Infinity } }) },
);

function timestampArb(): fc.Arbitrary<Message> {
  const nanos = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 999 }).map((n) => n * 1e6), fc.integer({ min: 0, max: 999999 }).map((n) => n * 1e3), fc.integer({ min: 0, max: 999999999 }));
  const valid = fc.record({ seconds: fc.bigInt({ min: -62135596800n, max: 253402300799n }), nanos });
  const invalid = fc.record({ seconds: fc.constantFrom(-62135596801n, 253402300800n, 0n), nanos: fc.constantFrom(-1, 1e9, 0) });
  return fc.oneof({ weight: 19, arbitrary: valid }, { weight: 1, arbitrary: invalid }).map((init) => create(TimestampSchema, init));
}

function durationArb(): fc.Arbitrary<Message> {
  const max = 315576000000n;
  const valid = fc.tuple(fc.bigInt({ min: -max, max }), fc.integer({ min: 0, max: 999999999 }), fc.constantFrom(1, 1000, 1000000)).map(([seconds, n, unit]) => {
    const nanos = Math.floor(n / unit) * unit;
    return { seconds, nanos: seconds < 0n || (seconds === 0n && n % 2 === 1) ? -nanos : nanos };
  });
  const invalid = fc.record({ seconds: fc.constantFrom(max + 1n, -max - 1n, 5n), nanos: fc.constantFrom(0, -1) });
  return fc.oneof({ weight: 19, arbitrary: valid }, { weight: 1, arbitrary: invalid }).map((init) => create(DurationSchema, init));
}

function messageArb(desc: DescMessage, depth: number): fc.Arbitrary<unknown> {
  switch (desc.typeName) {
    case 'google.protobuf.Timestamp':
      return timestampArb();
    case 'google.protobuf.Duration':
      return durationArb();
    case 'google.protobuf.Value': {
      // Mostly valid: a Value without a kind, or with NaN, makes the whole message throw.
      const invalid = fc.constantFrom({}, { kind: { case: 'numberValue', value: Number.NaN } });
      const valid = fc.jsonValue({ maxDepth: 2 }).map((json) => fromJson(desc, json as JsonValue));
      return fc.oneof({ weight: 1, arbitrary: invalid }, { weight: 30, arbitrary: valid });
    }
    case 'google.protobuf.FieldMask':
      return fc.record({ paths: fc.array(fc.constantFrom('a', 'foo_bar', 'foo.bar_baz', 'x1_y2'), { maxLength: 3 }) });
    case 'google.protobuf.Any': {
      const packable = [message('Node'), TimestampSchema, registry.getMessage('google.protobuf.Int64Value')!, registry.getMessage('google.protobuf.Struct')!];
      const packed = fc.constantFrom(...packable).chain((inner) =>
        messageArb(inner, depth - 1)
          .map((init) => create(inner, init as never))
          .filter((msg) => decoded(inner, msg) !== undefined)
          .map((msg) => anyPack(inner, msg)),
      );
      return fc.oneof(fc.constant({}), packed);
    }
  }
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of desc.members) {
    if (member.kind === 'oneof') {
      const cases = member.fields
        .filter((f) => depth > 0 || !f.message)
        .map((f) => valueArb(f, depth).map((value) => ({ case: f.localName, value })));
      parts[member.localName] = fc.oneof(
        { weight: 1, arbitrary: fc.constant({ case: undefined }) },
        ...cases.map((arbitrary) => ({ weight: 3, arbitrary })),
      );
    } else if (depth > 0 || !member.message) {
      parts[member.localName] = fieldArb(member, depth);
    }
  }
  return fc.record(parts, { requiredKeys: [] });
}

function fieldArb(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case 'list':
      return fc.array(valueArb(field, depth), { maxLength: 3 });
    case 'map':
      return fc.dictionary(mapKeyArb(field.mapKey), valueArb(field, depth), { maxKeys: 3 });
    default:
      return valueArb(field, depth);
  }
}

/** One value of the field (an item, for lists and maps) in the form create() takes. */
function valueArb(field: DescField, depth: number): fc.Arbitrary<unknown> {
  if (field.enum) return enumArb(field.enum);
  const desc = field.message;
  if (!desc) return scalarArbs[field.scalar!];
  // bufbuild keeps Struct fields as plain JSON objects, and singular wrappers as bare values.
  if (desc.typeName === 'google.protobuf.Struct' && field.parent.typeName !== 'google.protobuf.Value') return jsonObjectArb;
  if (field.fieldKind === 'message' && !field.oneof && isWrapperDesc(desc)) return scalarArbs[desc.fields[0].scalar];
  return messageArb(desc, depth - 1);
}

function arbitraryOf(desc: DescMessage, depth: number): fc.Arbitrary<Message> {
  return messageArb(desc, depth).map((init) => create(desc, init as never));
}

/** As an upstream's reply arrives (floats narrowed to float32, strings through UTF-8), if it encodes. */
function decoded(desc: DescMessage, msg: Message): Message | undefined {
  try {
    return fromBinary(desc, toBinary(desc, msg));
  } catch {
    return undefined; // a float beyond the float32 range, or an unset proto2 required field
  }
}

describe('compileJsonWriter', () => {
  test('prints random messages exactly as the float32 rewrite and toJsonString do', () => {
    let printedDecoded = 0;
    fc.assert(
      fc.property(arbitraryOf(sample, 4), (msg) => {
        const arrived = decoded(sample, msg);
        for (const withRegistry of [registry, undefined]) {
          assertSameAsPipeline(sample, msg, withRegistry);
          if (arrived && 'json' in assertSameAsPipeline(sample, arrived, withRegistry)) printedDecoded++;
        }
      }),
      { numRuns: 300, interruptAfterTimeLimit: 15000 },
    );
    // Runs where both sides throw, or nothing could be decoded, check little: most must print.
    assert.ok(printedDecoded > 100, `only ${printedDecoded} decoded messages printed`);
  });

  test('prints the floats of hand-built messages, which need not be float32 values', () => {
    const node = message('Node');
    for (const weight of [0.1, Math.fround(0.1), 1e39, -Number.MAX_VALUE, -0, Number.NaN, -Infinity]) {
      assertSameAsPipeline(node, create(node, { weight, boxedWeight: weight, children: [{ weight }] } as never), registry);
    }
    const written = compileJsonWriter(node)!(create(node, { weight: Math.fround(0.1), boxedWeight: Math.fround(2.2) } as never));
    assert.equal(written, '{"name":"","children":[],"weight":0.1,"boxedWeight":2.2}');
  });

  test('prints proto2 messages: only set fields, defaults not written, required fields enforced', () => {
    fc.assert(
      fc.property(arbitraryOf(legacy, 3), (msg) => {
        assertSameAsPipeline(legacy, msg, registry);
        const arrived = decoded(legacy, msg);
        if (arrived) assertSameAsPipeline(legacy, arrived, registry);
      }),
      { numRuns: 200, interruptAfterTimeLimit: 5000 },
    );
    const write = compileJsonWriter(legacy, registry)!;
    assert.equal(write(create(legacy, { key: 'k' } as never)), '{"key":"k","ranks":[]}');
    assert.throws(() => write(create(legacy)), /required field not set/);
  });

  test('puts integer-like JSON names first, as JSON.stringify does with toJson\'s object', () => {
    const integerKey = message('IntegerKey');
    const outcome = assertSameAsPipeline(integerKey, create(integerKey, { first: 'a', name: 'b' } as never), registry);
    assert.deepEqual(outcome, { json: '{"7":"b","first":"a"}' });
  });

  test('caches one writer per message type and registry', () => {
    assert.equal(compileJsonWriter(sample, registry), compileJsonWriter(sample, registry));
    assert.equal(compileJsonWriter(sample), compileJsonWriter(sample));
    assert.notEqual(compileJsonWriter(sample, registry), compileJsonWriter(sample));
  });

  test('rejects a message of another type as toJsonString does', () => {
    const write = compileJsonWriter(sample, registry)!;
    assert.throws(() => write(create(legacy, { key: 'k' } as never)), /cannot use field jsonwriter\.v1\.Sample\.id with message jsonwriter\.v1\.Legacy/);
  });
});

describe('Timestamp and Duration', () => {
  const timestamp = (seconds: bigint, nanos = 0) => create(TimestampSchema, { seconds, nanos });
  const duration = (seconds: bigint, nanos = 0) => create(DurationSchema, { seconds, nanos });
  const writeTimestamp = compileJsonWriter(TimestampSchema)!;
  const writeDuration = compileJsonWriter(DurationSchema)!;

  test('timestamps print 0, 3, 6 or 9 fractional digits, over the whole range', () => {
    const cases: [bigint, number, string][] = [
      [0n, 0, '1970-01-01T00:00:00Z'],
      [-1n, 999999999, '1969-12-31T23:59:59.999999999Z'],
      [951782400n, 1000000, '2000-02-29T00:00:00.001Z'],
      [-2203977600n, 1000, '1900-02-28T00:00:00.000001Z'],
      [1736933400n, 120000000, '2025-01-15T09:30:00.120Z'],
      [1736933400n, 123456780, '2025-01-15T09:30:00.123456780Z'],
      [-62135596800n, 0, '0001-01-01T00:00:00Z'],
      [253402300799n, 999999999, '9999-12-31T23:59:59.999999999Z'],
    ];
    for (const [seconds, nanos, text] of cases) {
      assert.equal(writeTimestamp(timestamp(seconds, nanos)), JSON.stringify(text));
      assert.equal(toJsonString(TimestampSchema, timestamp(seconds, nanos)), JSON.stringify(text));
    }
  });

  test('timestamps agree with toJsonString at any second of years 1 to 9999', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -62135596800n, max: 253402300799n }), fc.integer({ min: 0, max: 999999999 }), (seconds, nanos) => {
        const ts = timestamp(seconds, nanos);
        assert.equal(writeTimestamp(ts), toJsonString(TimestampSchema, ts));
      }),
      { numRuns: 3000, interruptAfterTimeLimit: 3000 },
    );
  });

  test('timestamps out of range or with invalid nanos throw, as toJsonString does', () => {
    for (const [seconds, nanos] of [[-62135596801n, 0], [253402300800n, 0], [0n, -1], [0n, 1e9], [2n ** 62n, 0]] as const) {
      assert.throws(() => toJsonString(TimestampSchema, timestamp(seconds, nanos)));
      assert.throws(() => writeTimestamp(timestamp(seconds, nanos)), /cannot encode message google\.protobuf\.Timestamp to JSON/);
    }
  });

  test('durations print like toJsonString, negative fractions and range errors included', () => {
    const cases: [bigint, number, string][] = [
      [0n, 0, '0s'],
      [1n, 500000000, '1.500s'],
      [-1n, -500000000, '-1.500s'],
      [0n, -1, '-0.000000001s'],
      [0n, 1000, '0.000001s'],
      [315576000000n, 999999999, '315576000000.999999999s'],
      [-315576000000n, -999999999, '-315576000000.999999999s'],
    ];
    for (const [seconds, nanos, text] of cases) {
      assert.equal(writeDuration(duration(seconds, nanos)), JSON.stringify(text));
      assert.equal(toJsonString(DurationSchema, duration(seconds, nanos)), JSON.stringify(text));
    }
    for (const [seconds, nanos] of [[315576000001n, 0], [-315576000001n, 0], [1n, -1], [-1n, 1]] as const) {
      assert.throws(() => toJsonString(DurationSchema, duration(seconds, nanos)));
      assert.throws(() => writeDuration(duration(seconds, nanos)), /cannot encode message google\.protobuf\.Duration to JSON/);
    }
  });
});

describe('shapes left to toJsonString', () => {
  test('an optional proto2 float, which the float rewrite makes present, and messages reaching one', () => {
    assert.equal(compileJsonWriter(message('LegacyFloat'), registry), undefined);
    assert.equal(compileJsonWriter(message('ReachesLegacyFloat'), registry), undefined);
  });

  test('a "__proto__" JSON name, which toJson defines as an own property', () => {
    assert.equal(compileJsonWriter(message('ProtoKey'), registry), undefined);
  });

  test('a message that registry extensions extend, whose unknown fields toJson prints', () => {
    const file = create(FileDescriptorProtoSchema, {
      name: 'ext.proto',
      package: 'ext',
      syntax: 'proto2',
      messageType: [{ name: 'Base', field: [{ name: 'id', number: 1, type: 9, label: 1, jsonName: 'id' }], extensionRange: [{ start: 100, end: 200 }] }],
      extension: [{ name: 'extra', number: 100, type: 9, label: 1, extendee: '.ext.Base', jsonName: 'extra' }],
    });
    const extended = createFileRegistry(file, () => undefined);
    const base = extended.getMessage('ext.Base')!;
    assert.equal(compileJsonWriter(base, extended), undefined);
    // Without a registry, toJson writes no extensions, and the writer applies.
    assert.ok(compileJsonWriter(base));
  });
});
