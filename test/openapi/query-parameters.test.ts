import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceConfig } from '../../src/config/schema.js';
import { loadCatalog } from '../../src/descriptors/catalog.js';
import { MessageSchemas } from '../../src/openapi/message-schemas.js';
import { queryParameters } from '../../src/openapi/query-parameters.js';
import { repoRoot } from '../support/gateway.js';

/*
 * Query parameters in the OpenAPI document: named by JSON name, and required where the
 * gateway itself refuses a request without them (google.api.field_behavior = REQUIRED).
 */

const catalog = loadCatalog([`${repoRoot}/test/fixtures/protos`], [{ protoFiles: ['openapi/v1/library.proto'], service: 'openapi.v1.LibraryService' } as ServiceConfig]);

/** The query parameters of `input` by name, with nothing bound by the path or body unless said. */
function parametersOf(input: string, pathFields: readonly string[] = []) {
  const schemas = new MessageSchemas({ comments: catalog.comments, requiredFields: catalog.requiredFields });
  const desc = catalog.registry.getMessage(input)!;
  return Object.fromEntries(queryParameters(desc, { body: undefined, pathFields }, schemas).map((p) => [p.name, p]));
}

describe('queryParameters', () => {
  it('marks REQUIRED fields required, nested ones when every message on the way is REQUIRED', () => {
    // CreateShelfRequest.shelf and Shelf.theme are REQUIRED; Shelf.name is not.
    const create = parametersOf('openapi.v1.CreateShelfRequest');
    assert.equal(create['shelf.theme']?.required, true);
    assert.equal(create['shelf.name']?.required, undefined);
    assert.equal(create['validateOnly']?.required, undefined);
    // UpdateBookRequest.book is not REQUIRED: Book.title is checked only when a book is sent.
    const update = parametersOf('openapi.v1.UpdateBookRequest');
    assert.ok(update['book.title'], 'book.title is listed');
    assert.equal(update['book.title']?.required, undefined);
  });

  it('names parameters by JSON name, never by proto name', () => {
    const names = Object.keys(parametersOf('openapi.v1.ListBooksRequest'));
    assert.ok(names.includes('pageSize') && names.includes('filter.titlePrefix'));
    assert.deepEqual(
      names.filter((name) => name.includes('_')),
      [],
    );
  });

  it('lists nothing for fields the path binds', () => {
    const create = parametersOf('openapi.v1.CreateShelfRequest', ['shelf.theme']);
    assert.equal(create['shelf.theme'], undefined);
    assert.ok(create['shelf.name']);
  });
});
