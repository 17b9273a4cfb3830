import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { create, fromBinary, toBinary, toJson, type DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { float32Rewriter, shortestFloat32 } from '../../src/transcoding/float32-output.js';
import { repoRoot } from '../support/gateway.js';

const registry = buildFileRegistry(loadProtoSources([path.join(repoRoot, 'test/fixtures/protos')], ['acceptance/v1/echo.proto']));
const echo = registry.getMessage('acceptance.v1.EchoMessage') as DescMessage;
const sleep = registry.getMessage('acceptance.v1.SleepRequest') as DescMessage;

describe('shortestFloat32', () => {
  test('gives the decimal a person wrote for values a float cannot hold exactly', () => {
    assert.equal(shortestFloat32(Math.fround(0.1)), 0.1);
    assert.equal(shortestFloat32(Math.fround(3.14)), 3.14);
    assert.equal(shortestFloat32(Math.fround(-1e-7)), -1e-7);
    assert.equal(shortestFloat32(Math.fround(16777217)), 16777216);
  });

  test('leaves non-finite values and values that are not float32 alone', () => {
    assert.equal(shortestFloat32(Number.POSITIVE_INFINITY), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(shortestFloat32(Number.NaN)));
    assert.equal(shortestFloat32(0.1), 0.1);
  });

  test('always reads back as the same float32, in at most 9 significant digits', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (value) => {
        const shortest = shortestFloat32(value);
        assert.ok(Object.is(Math.fround(shortest), value) || (value === 0 && shortest === 0));
        const significantDigits = shortest.toExponential().split('e')[0]!.replace(/[-.]/g, '').length;
        assert.ok(significantDigits <= 9, `${shortest} has ${significantDigits} significant digits`);
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 3000 },
    );
  });

  test('gives back any decimal of up to 6 significant digits that went through a float', () => {
    fc.assert(
      fc.property(fc.integer({ min: -999_999, max: 999_999 }), fc.integer({ min: -20, max: 20 }), (digits, exponent) => {
        const decimal = Number(`${digits}e${exponent}`);
        assert.equal(shortestFloat32(Math.fround(decimal)), decimal);
      }),
      { numRuns: 2000, interruptAfterTimeLimit: 3000 },
    );
  });
});

describe('float32Rewriter', () => {
  test('is absent for messages that cannot hold a float', () => {
    assert.equal(float32Rewriter(sleep), undefined);
  });

  test('rewrites float fields, FloatValue wrappers and floats in nested messages after a binary round trip', () => {
    const message = create(echo, { scalars: { fFloat: 0.1, fDouble: 0.1 }, wkt: { floatWrapper: 2.2 } } as never);
    const decoded = fromBinary(echo, toBinary(echo, message));
    const rewrite = float32Rewriter(echo);
    assert.ok(rewrite);
    rewrite(decoded as unknown as Record<string, unknown>);
    const json = toJson(echo, decoded, { registry }) as { scalars: Record<string, unknown>; wkt: Record<string, unknown> };
    assert.equal(json.scalars['fFloat'], 0.1);
    assert.equal(json.scalars['fDouble'], 0.1);
    assert.equal(json.wkt['floatWrapper'], 2.2);
  });
});
