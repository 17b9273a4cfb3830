import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { create, type DescMessage, type Message } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { buildFileRegistry } from '../../src/descriptors/file-registry.js';
import { loadProtoSources } from '../../src/descriptors/proto-files.js';
import { compileResponseRenderer } from '../../src/transcoding/response-json.js';
import { repoRoot } from '../support/gateway.js';

/*
 * response_body renderers: a message field renders as that message, and fields that
 * @bufbuild/protobuf keeps as bare values (wrappers, Struct) render as their proto3 JSON.
 */

const registry = buildFileRegistry(loadProtoSources([path.join(repoRoot, 'test/fixtures/protos')], ['jsonwriter/v1/sample.proto']));
const wellKnown = registry.getMessage('jsonwriter.v1.WellKnown')!;

function render(fieldName: string, init: Record<string, unknown>): string {
  const field = wellKnown.fields.find((f) => f.name === fieldName)!;
  const message = create(wellKnown as DescMessage, init as never) as Message;
  return compileResponseRenderer(wellKnown, field, registry)(message);
}

describe('response_body renderers', () => {
  test('a message field renders as that message, {} when unset', () => {
    assert.equal(render('timestamp', { timestamp: timestampFromMs(Date.UTC(2025, 0, 15, 9, 30)) }), '"2025-01-15T09:30:00Z"');
    assert.equal(render('empty', {}), '{}');
  });

  test('wrapper fields render as their bare proto3 JSON value, null when unset', () => {
    assert.equal(render('string_wrapper', { stringWrapper: 'hello' }), '"hello"');
    assert.equal(render('int64_wrapper', { int64Wrapper: 9007199254740993n }), '"9007199254740993"');
    assert.equal(render('float_wrapper', { floatWrapper: Math.fround(0.1) }), '0.1');
    assert.equal(render('bool_wrapper', {}), 'null');
  });

  test('a Struct field renders as its JSON object', () => {
    assert.equal(render('struct', { struct: { a: 1, b: [true, null, 'x'] } }), '{"a":1,"b":[true,null,"x"]}');
  });
});
