import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildApp, type Gateway } from '../../src/app.js';
import { normaliseConfig } from '../../src/config/load.js';
import { indicatorInsightsContext } from '../../src/contexts/indicator-insights/indicator-insights-context.js';
import { investorContext } from '../../src/contexts/investor/investor-context.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const packageVersion = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

// No upstream answers at 127.0.0.1:1: the document needs only the descriptors.
const library = { name: 'library', protoFiles: ['openapi/v1/library.proto'], service: 'openapi.v1.LibraryService', address: '127.0.0.1:1', auth: 'required' };
const services = [
  library,
  { name: 'investor', protoFiles: ['investor/v1/investor.proto'], service: 'investor.v1.InvestorService', address: '127.0.0.1:1' },
  {
    name: 'indicator-insights',
    protoFiles: ['indicator-insights/v1/indicator_insights.proto'],
    service: 'indicator_insights.v1.IndicatorInsightsService',
    address: '127.0.0.1:1',
  },
];
const status = { name: 'status', protoFiles: ['openapi/v1/status.proto'], service: 'openapi.v1.StatusService', address: '127.0.0.1:1' };

function configWith(serviceList: unknown[]) {
  return normaliseConfig(
    {
      protos: { includeDirs: ['test/fixtures/protos', 'proto'] },
      services: serviceList,
      auth: { jwt: { secret: 'openapi-test-secret-0123456789' } },
    },
    { baseDir: repoRoot, env: {} },
  );
}

type Json = Record<string, any>;

async function fetchDocument(gateway: Gateway, url = '/openapi.json'): Promise<Json> {
  const response = await gateway.app.inject({ method: 'GET', url });
  assert.equal(response.statusCode, 200, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  return response.json();
}

function resolvePointer(doc: Json, ref: string): unknown {
  assert.ok(ref.startsWith('#/'), `only local $refs are expected, got ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    assert.ok(node !== null && typeof node === 'object' && Object.hasOwn(node, key), `$ref ${ref} does not resolve`);
    node = (node as Json)[key];
  }
  return node;
}

/** Checks what an OpenAPI 3.1 validator would, as far as this generator can get it wrong. */
function assertWellFormed(doc: Json): void {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref') resolvePointer(doc, value as string);
      else if (key === 'pattern' && typeof value === 'string') new RegExp(value, 'u');
      else walk(value);
    }
  };
  walk(doc);

  const operationIds = new Set<string>();
  const shapes = new Set<string>();
  for (const [template, item] of Object.entries(doc['paths'] as Json)) {
    assert.match(template, /^\//);
    const shape = template.replace(/\{[^}]*\}/g, '{}');
    assert.ok(!shapes.has(shape), `two paths differ only in parameter names: ${shape}`);
    shapes.add(shape);
    const variables = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
    for (const [method, operation] of Object.entries(item as Json)) {
      assert.ok(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method), method);
      assert.ok(!operationIds.has(operation.operationId), `duplicate operationId ${operation.operationId}`);
      operationIds.add(operation.operationId);
      const parameters = (operation.parameters ?? []) as Json[];
      const pathParameters = parameters.filter((p) => p['in'] === 'path');
      assert.deepEqual(pathParameters.map((p) => p['name']).sort(), variables, `${method} ${template}: path parameters`);
      assert.ok(pathParameters.every((p) => p['required'] === true));
      const keys = parameters.map((p) => `${p['in']} ${p['name']}`);
      assert.equal(new Set(keys).size, keys.length, `${method} ${template}: duplicate parameters`);
      for (const parameter of parameters) assert.ok(('schema' in parameter) !== ('content' in parameter), `${parameter['name']}: schema xor content`);
      for (const response of Object.values(operation.responses as Json)) assert.equal(typeof response.description, 'string');
    }
  }
}

describe('OpenAPI document', () => {
  let gateway: Gateway;
  let doc: Json;
  const op = (method: string, template: string): Json => {
    const operation = doc['paths'][template]?.[method];
    assert.ok(operation, `no ${method.toUpperCase()} ${template} in ${Object.keys(doc['paths']).join(', ')}`);
    return operation;
  };
  const parameterNames = (operation: Json, where: string) => (operation['parameters'] ?? []).filter((p: Json) => p['in'] === where).map((p: Json) => p['name']);
  const schema = (name: string): Json => doc['components']['schemas'][name];

  before(async () => {
    gateway = await buildApp(configWith(services), { logger: false, contexts: [investorContext, indicatorInsightsContext] });
    doc = await fetchDocument(gateway);
  });
  after(() => gateway.app.close());

  it('is OpenAPI 3.1 with the Portico info block, and well formed', () => {
    assert.match(doc['openapi'], /^3\.1\.\d+$/);
    assert.equal(doc['info'].title, 'Portico');
    assert.equal(doc['info'].version, packageVersion);
    assertWellFormed(doc);
  });

  it('documents every binding with <Service>_<Method> operationIds, numbered for additional bindings', () => {
    assert.equal(op('get', '/v1/shelves/{shelf_id}/books').operationId, 'LibraryService_ListBooks');
    assert.equal(op('get', '/v1/books').operationId, 'LibraryService_ListBooks_2');
    assert.equal(op('post', '/v1/shelves').operationId, 'LibraryService_CreateShelf');
    assert.equal(op('patch', '/v1/books/{book.id}').operationId, 'LibraryService_UpdateBook');
    assert.equal(op('get', '/v1/investors/{investor_id}/holdings').operationId, 'InvestorService_ListHoldings');
    assert.deepEqual(op('get', '/v1/books').tags, ['LibraryService']);
  });

  it('takes summary and description from the proto comments', () => {
    const getShelf = op('get', '/v1/shelves/{name_1}');
    assert.equal(getShelf.summary, 'Returns one shelf.');
    assert.equal(getShelf.description, 'Returns one shelf. A missing shelf is NOT_FOUND.');
    assert.equal(op('post', '/v1/shelves').summary, 'Creates a shelf.');
    assert.deepEqual(doc['tags'].find((t: Json) => t['name'] === 'LibraryService'), { name: 'LibraryService', description: 'Shelves and the books on them.' });
  });

  it('renders a patterned variable as one parameter named by its field path, with its pattern', () => {
    const watch = op('get', '/v1/{name}:watch');
    const [name] = watch.parameters;
    assert.equal(name.name, 'name');
    assert.equal(name.schema.pattern, '^shelves/[^/]+$');
    assert.match(name.description, /shelves\/\*/);
    const read = op('get', '/v1/files/{path}');
    assert.match(read.parameters[0].description, /\*\*/);
  });

  it('expands bindings whose compact paths would collide (/v1/{name=shelves/*} and /v1/{name=shelves/*/books/*})', () => {
    assert.equal(doc['paths']['/v1/{name}'], undefined);
    assert.deepEqual(parameterNames(op('get', '/v1/shelves/{name_1}'), 'path'), ['name_1']);
    assert.equal(op('get', '/v1/shelves/{name_1}/books/{name_2}').operationId, 'LibraryService_GetBook');
  });

  it('lists every field the path and body leave as a query parameter, flattened by JSON name', () => {
    const list = op('get', '/v1/shelves/{shelf_id}/books');
    assert.deepEqual(parameterNames(list, 'path'), ['shelf_id']);
    // examples (repeated messages) cannot be set from a query string; the recursive
    // category is flattened once.
    assert.deepEqual(parameterNames(list, 'query'), [
      'pageSize',
      'pageToken',
      'genres',
      'filter.titlePrefix',
      'filter.minPages',
      'filter.category.name',
      'labels',
      'since',
    ]);
    const byName = Object.fromEntries(list.parameters.map((p: Json) => [p['name'], p]));
    assert.deepEqual(byName['genres'], {
      name: 'genres',
      in: 'query',
      schema: { type: 'array', items: { $ref: '#/components/schemas/openapi.v1.Genre' } },
      style: 'form',
      explode: true,
    });
    assert.equal(byName['pageSize'].description, 'At most this many books are returned.');
    assert.deepEqual(byName['filter.minPages'].schema, { type: 'integer', format: 'int32' });
    assert.equal(byName['labels'].style, 'deepObject');
    assert.equal(byName['since'].schema.format, 'date-time');
    assert.deepEqual(parameterNames(op('get', '/v1/books'), 'query').slice(0, 2), ['shelfId', 'pageSize']);
  });

  it('sends the body field or the whole message as the request body', () => {
    const create = op('post', '/v1/shelves');
    assert.deepEqual(parameterNames(create, 'query'), ['validateOnly']);
    assert.equal(create.requestBody.required, true);
    assert.equal(create.requestBody.description, 'The shelf to create.');
    assert.equal(create.requestBody.content['application/json'].schema.$ref, '#/components/schemas/openapi.v1.Shelf');

    const update = op('patch', '/v1/books/{book.id}');
    assert.deepEqual(parameterNames(update, 'query'), []);
    assert.deepEqual(update.parameters[0].schema, { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' });
    assert.equal(update.requestBody.content['application/json'].schema.$ref, '#/components/schemas/openapi.v1.UpdateBookRequest');
  });

  it('answers the response message, the response_body field, or a stream', () => {
    const ok = (operation: Json) => operation.responses['200'].content;
    assert.deepEqual(ok(op('get', '/v1/books'))['application/json'].schema, { $ref: '#/components/schemas/openapi.v1.ListBooksResponse' });
    assert.deepEqual(ok(op('get', '/v1/books/{id}/title'))['application/json'].schema, { type: 'string', description: 'The title on the cover.' });
    const stream = ok(op('get', '/v1/{name}:watch'));
    assert.deepEqual(Object.keys(stream).sort(), ['application/x-ndjson', 'text/event-stream']);
    assert.equal(stream['application/x-ndjson'].schema.$ref, '#/components/schemas/openapi.v1.ShelfEvent');
    assert.equal(stream['text/event-stream'].schema.$ref, '#/components/schemas/openapi.v1.ShelfEvent');
  });

  it('gives every operation the error envelope as its default response', () => {
    for (const item of Object.values(doc['paths'] as Json)) {
      for (const operation of Object.values(item as Json)) {
        assert.deepEqual(operation.responses.default.content['application/json'].schema, { $ref: '#/components/schemas/ErrorEnvelope' });
      }
    }
    const error = schema('ErrorEnvelope')['properties'].error;
    assert.deepEqual(Object.keys(error.properties), ['code', 'status', 'message', 'requestId', 'details']);
    assert.equal(error.properties.code.type, 'integer');
    assert.equal(error.properties.details.type, 'array');
    assert.deepEqual(error.properties.details.items, { type: 'object' });
  });

  it('writes proto3 JSON schemas: int64 as strings, enums by name, required, comments, maps, well-known types', () => {
    const book = schema('openapi.v1.Book');
    assert.equal(book['description'], 'A book.');
    assert.deepEqual(book['required'], ['title']);
    const p = book['properties'];
    assert.deepEqual(p.id, { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' });
    assert.equal(p.isbn.format, 'uint64');
    assert.equal(p.title.description, 'The title on the cover.');
    assert.deepEqual(p.pages, { type: 'integer', format: 'int32' });
    assert.deepEqual(p.authors, { type: 'array', items: { type: 'string' } });
    assert.deepEqual(p.subtitle.type, ['string', 'null']);
    assert.equal(p.cover.format, 'byte');
    assert.equal(p.rating.type, 'number');
    assert.match('1.5s', new RegExp(p.readingTime.pattern));
    assert.deepEqual(schema('openapi.v1.Genre'), { type: 'string', enum: ['GENRE_UNSPECIFIED', 'FICTION', 'HISTORY'], description: 'The literary genre of a book.' });

    const shelf = schema('openapi.v1.Shelf');
    assert.deepEqual(shelf['required'], ['theme']);
    assert.deepEqual(shelf['properties'].bookCount.type, 'string');
    assert.deepEqual(shelf['properties'].labels, { type: 'object', additionalProperties: { type: 'string' } });
    assert.deepEqual(shelf['properties'].createTime, { type: 'string', format: 'date-time' });

    const category = schema('openapi.v1.Category')['properties'];
    assert.deepEqual(category.parent, { $ref: '#/components/schemas/openapi.v1.Category' });
    assert.deepEqual(category.children, { type: 'array', items: { $ref: '#/components/schemas/openapi.v1.Category' } });
    assert.deepEqual(op('get', '/v1/files/{path}').responses['200'].content['application/json'].schema, { type: 'object', additionalProperties: true });
  });

  it('marks routes that take a token, optional tokens with an empty alternative', () => {
    assert.deepEqual(doc['components']['securitySchemes'].bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    assert.deepEqual(op('get', '/v1/books').security, [{ bearerAuth: [] }]);
    assert.equal(op('get', '/v1/investors/{investor_id}/holdings').security, undefined);
    assert.deepEqual(op('get', '/v1/insights/{symbol}').security, [{ bearerAuth: [] }, {}]);
  });

  it('documents hand-written routes from their schemas and public reply message', () => {
    const investor = op('get', '/v1/investor');
    assert.equal(investor.summary, "The caller's view of an investor profile");
    assert.deepEqual(investor.tags, ['InvestorService']);
    assert.deepEqual(investor.parameters, [
      { name: 'investor_id', in: 'query', required: true, description: 'Numeric investor id.', schema: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } },
    ]);
    assert.deepEqual(investor.security, [{ bearerAuth: [] }]);
    assert.deepEqual(investor.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/investor.v1.InvestorProfile' });
    assert.equal(schema('investor.v1.InvestorProfile')['type'], 'object');

    const insight = op('get', '/v1/insights/{symbol}');
    assert.deepEqual(parameterNames(insight, 'path'), ['symbol']);
    assert.equal(insight.parameters[0].description, 'Ticker symbol, e.g. ACME.');
  });

  it('leaves out the operational routes', () => {
    for (const hidden of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/json', '/*']) {
      assert.equal(doc['paths'][hidden], undefined, hidden);
    }
  });

  it('serves Swagger UI at /docs with the same document', async () => {
    const page = await gateway.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /swagger-ui/i);
    assert.deepEqual(await fetchDocument(gateway, '/docs/json'), doc);
  });

  it('follows a config reload', async () => {
    assert.equal(doc['paths']['/v1/status'], undefined);
    gateway.live.reload(configWith([...services, status]));
    const reloaded = await fetchDocument(gateway);
    assert.equal(reloaded['paths']['/v1/status'].get.operationId, 'StatusService_GetStatus');
    assert.deepEqual(reloaded['paths']['/v1/investor'], doc['paths']['/v1/investor']);
    assertWellFormed(reloaded);
    assert.deepEqual(await fetchDocument(gateway, '/docs/json'), reloaded);

    gateway.live.reload({ ...configWith([library]), reload: { allowBreaking: true } });
    const reduced = await fetchDocument(gateway);
    assert.equal(reduced['paths']['/v1/status'], undefined);
    assert.equal(reduced['paths']['/v1/investors/{investor_id}/holdings'], undefined);
  });
});
