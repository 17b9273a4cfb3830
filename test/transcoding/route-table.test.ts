import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  matchPath,
  parsePathTemplate,
  PathDecodeError,
  type PathTemplate,
} from '../../src/transcoding/path-template.js';
import {
  buildRouteTable,
  RouteConflictError,
  type RouteEntry,
  type RouteMatch,
} from '../../src/transcoding/route-table.js';

function entry(method: string, template: string, value = `${method} ${template}`): RouteEntry<string> {
  return { method, template: parsePathTemplate(template), value, describe: `${method} ${template} (acme.v1.Svc.M)` };
}

function table(...specs: [method: string, template: string][]) {
  return buildRouteTable(specs.map(([method, template]) => entry(method, template)));
}

function found(result: RouteMatch<string>): { value: string; params: Record<string, string> } {
  assert.equal(result.kind, 'found', JSON.stringify(result));
  if (result.kind !== 'found') throw new Error('unreachable');
  return { value: result.value, params: Object.fromEntries(result.params) };
}

describe('buildRouteTable', () => {
  it('keeps the entries as given', () => {
    const entries = [entry('GET', '/v1/a'), entry('POST', '/v1/a')];
    assert.deepEqual(buildRouteTable(entries).entries, entries);
  });

  it('rejects two bindings of one method with the same shape, naming both', () => {
    assert.throws(
      () => buildRouteTable([entry('GET', '/v1/{name}'), entry('POST', '/v1/{name}'), entry('GET', '/v1/{id=*}')]),
      (err: unknown) => {
        assert.ok(err instanceof RouteConflictError);
        assert.match(err.message, /GET \/v1\/\{name\} \(acme\.v1\.Svc\.M\)/);
        assert.match(err.message, /GET \/v1\/\{id=\*\} \(acme\.v1\.Svc\.M\)/);
        assert.match(err.message, /GET \/v1\/\*/);
        return true;
      },
    );
  });

  it('rejects same-shaped bindings that differ only in how the variables are written', () => {
    assert.throws(
      () => table(['POST', '/v1/{name=ops/*}:cancel'], ['POST', '/v1/ops/{id}:cancel']),
      RouteConflictError,
    );
    assert.throws(() => table(['GET', '/v1/{x=**}'], ['GET', '/v1/**']), RouteConflictError);
  });

  it('accepts bindings that differ in method, verb, literal or wildcard kind', () => {
    table(
      ['GET', '/v1/{name}'],
      ['DELETE', '/v1/{name}'],
      ['HEAD', '/v1/{name}'],
      ['POST', '/v1/{name}:cancel'],
      ['POST', '/v1/{name}:undelete'],
      ['GET', '/v1/x'],
      ['GET', '/v1/{name=**}'],
    );
  });
});

describe('RouteTable.match', () => {
  const routes = table(
    ['GET', '/v1/shelves'],
    ['POST', '/v1/shelves'],
    ['GET', '/v1/shelves/{shelf}'],
    ['DELETE', '/v1/shelves/{shelf}'],
    ['PATCH', '/v1/{shelf.name=shelves/*}'],
    ['POST', '/v1/{name=shelves/*}:archive'],
    ['PURGE', '/v1/cache/{key=**}'],
    ['POST', '/v1/ops/{op}:cancel'],
  );

  it('finds the entry for the method and path, with its variables', () => {
    assert.deepEqual(found(routes.match('GET', '/v1/shelves/7')), {
      value: 'GET /v1/shelves/{shelf}',
      params: { shelf: '7' },
    });
    assert.deepEqual(found(routes.match('PATCH', '/v1/shelves/7')).params, { 'shelf.name': 'shelves/7' });
    assert.deepEqual(found(routes.match('POST', '/v1/shelves/7:archive')).params, { name: 'shelves/7' });
    assert.deepEqual(found(routes.match('PURGE', '/v1/cache/a/b%2Fc')).params, { key: 'a/b%2Fc' });
  });

  it('answers HEAD with the GET entry', () => {
    assert.deepEqual(found(routes.match('HEAD', '/v1/shelves/7')), {
      value: 'GET /v1/shelves/{shelf}',
      params: { shelf: '7' },
    });
  });

  it('prefers an explicit HEAD entry over the GET one', () => {
    const withHead = table(['GET', '/v1/{name}'], ['HEAD', '/v1/{name}']);
    assert.equal(found(withHead.match('HEAD', '/v1/x')).value, 'HEAD /v1/{name}');
    assert.equal(found(withHead.match('GET', '/v1/x')).value, 'GET /v1/{name}');
  });

  it('falls back to GET when the explicit HEAD entries do not match the path', () => {
    const withHead = table(['GET', '/v1/{name}'], ['HEAD', '/v2/{name}']);
    assert.equal(found(withHead.match('HEAD', '/v1/x')).value, 'GET /v1/{name}');
  });

  it('answers method-not-allowed with the sorted methods that match, HEAD added to GET', () => {
    assert.deepEqual(routes.match('PUT', '/v1/shelves/7'), {
      kind: 'method-not-allowed',
      allow: ['DELETE', 'GET', 'HEAD', 'PATCH'],
    });
    assert.deepEqual(routes.match('DELETE', '/v1/shelves'), {
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD', 'POST'],
    });
    assert.deepEqual(routes.match('GET', '/v1/ops/7:cancel'), {
      kind: 'method-not-allowed',
      allow: ['POST'],
    });
  });

  it('does not add HEAD to the allow list when GET is not allowed', () => {
    assert.deepEqual(routes.match('GET', '/v1/cache/x'), { kind: 'method-not-allowed', allow: ['PURGE'] });
    assert.deepEqual(routes.match('HEAD', '/v1/cache/x'), { kind: 'method-not-allowed', allow: ['PURGE'] });
  });

  it('answers not-found when no method has a matching template', () => {
    assert.deepEqual(routes.match('GET', '/v2/shelves'), { kind: 'not-found' });
    assert.deepEqual(routes.match('GET', '/v1/shelves/7/books'), { kind: 'not-found' });
    assert.deepEqual(routes.match('POST', '/v1/ops/7:burn'), { kind: 'not-found' });
  });

  it('answers not-found for trailing slashes, empty segments and paths without a leading slash', () => {
    assert.deepEqual(routes.match('GET', '/v1/shelves/'), { kind: 'not-found' });
    assert.deepEqual(routes.match('GET', '/v1//shelves'), { kind: 'not-found' });
    assert.deepEqual(routes.match('GET', 'v1/shelves'), { kind: 'not-found' });
    assert.deepEqual(routes.match('GET', '/'), { kind: 'not-found' });
  });

  it('throws PathDecodeError for an invalid escape', () => {
    assert.throws(() => routes.match('GET', '/v1/shelves/%E0%A4'), PathDecodeError);
  });

  it('compares methods case-sensitively', () => {
    assert.deepEqual(routes.match('get', '/v1/shelves'), {
      kind: 'method-not-allowed',
      allow: ['GET', 'HEAD', 'POST'],
    });
  });
});

describe('RouteTable.match specificity', () => {
  it('prefers a literal segment over a variable', () => {
    const routes = table(['GET', '/v1/{name}'], ['GET', '/v1/me']);
    assert.equal(found(routes.match('GET', '/v1/me')).value, 'GET /v1/me');
    assert.equal(found(routes.match('GET', '/v1/you')).value, 'GET /v1/{name}');
  });

  it('prefers * over ** in the same position', () => {
    const routes = table(['GET', '/v1/{rest=**}'], ['GET', '/v1/{one}']);
    assert.equal(found(routes.match('GET', '/v1/a')).value, 'GET /v1/{one}');
    assert.equal(found(routes.match('GET', '/v1/a/b')).value, 'GET /v1/{rest=**}');
    assert.equal(found(routes.match('GET', '/v1')).value, 'GET /v1/{rest=**}');
  });

  it('decides at the leftmost segment that differs', () => {
    const routes = table(['GET', '/v1/{a}/books'], ['GET', '/v1/shelves/{b}'], ['GET', '/{c=**}']);
    assert.equal(found(routes.match('GET', '/v1/shelves/books')).value, 'GET /v1/shelves/{b}');
    assert.equal(found(routes.match('GET', '/v1/x/books')).value, 'GET /v1/{a}/books');
    assert.equal(found(routes.match('GET', '/v2/x/books')).value, 'GET /{c=**}');
  });

  it('prefers a template without a trailing ** over one whose ** would match nothing', () => {
    const routes = table(['GET', '/v1/{a}/**'], ['GET', '/v1/{a}']);
    assert.equal(found(routes.match('GET', '/v1/x')).value, 'GET /v1/{a}');
    assert.equal(found(routes.match('GET', '/v1/x/y')).value, 'GET /v1/{a}/**');
  });

  it('prefers a template whose verb matches over one that takes the colon as data', () => {
    const routes = table(['POST', '/v1/{name}'], ['POST', '/v1/{name}:cancel']);
    assert.deepEqual(found(routes.match('POST', '/v1/op:cancel')), {
      value: 'POST /v1/{name}:cancel',
      params: { name: 'op' },
    });
    assert.deepEqual(found(routes.match('POST', '/v1/op:stop')).params, { name: 'op:stop' });
  });

  it('prefers literal segments over a verb', () => {
    const routes = table(['POST', '/v1/{name}:cancel'], ['POST', '/v1/x:cancel'], ['POST', '/v1/*/{y}']);
    assert.equal(found(routes.match('POST', '/v1/x:cancel')).value, 'POST /v1/x:cancel');
    assert.equal(found(routes.match('POST', '/v1/y:cancel')).value, 'POST /v1/{name}:cancel');
  });

  it('chooses by specificity regardless of the order of the entries', () => {
    const specs: [string, string][] = [
      ['GET', '/v1/{a}/**'],
      ['GET', '/v1/{a}'],
      ['GET', '/v1/me'],
      ['GET', '/v1/me/{b}'],
      ['GET', '/{rest=**}'],
      ['GET', '/v1/{a}:x'],
    ];
    const expected: [string, string][] = [
      ['/v1/me', 'GET /v1/me'],
      ['/v1/you', 'GET /v1/{a}'],
      ['/v1/me/x', 'GET /v1/me/{b}'],
      ['/v1/you/x', 'GET /v1/{a}/**'],
      ['/v1/me:x', 'GET /v1/{a}:x'],
      ['/v2', 'GET /{rest=**}'],
      ['/', 'GET /{rest=**}'],
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray(specs, { minLength: specs.length }), (shuffled) => {
        const routes = table(...shuffled);
        for (const [path, value] of expected) assert.equal(found(routes.match('GET', path)).value, value, path);
      }),
      { numRuns: 100, interruptAfterTimeLimit: 4000 },
    );
  });
});

describe('RouteTable.match properties', () => {
  const segment = fc.constantFrom('a', 'b', 'x:y', '%41', 'c%2Fd');
  const templateSegment = fc.constantFrom('a', 'b', '*', 'variable', 'prefixed');
  const template = fc
    .tuple(
      fc.array(templateSegment, { minLength: 1, maxLength: 3 }),
      fc.boolean(),
      fc.constantFrom(undefined, 'go', 'y'),
    )
    .map(([segments, rest, verb]) => {
      const written = segments.map((s, i) => (s === 'variable' ? `{v${i}}` : s === 'prefixed' ? `{w${i}=a/*}` : s));
      if (rest) written.push('{r=**}');
      return parsePathTemplate(`/${written.join('/')}${verb === undefined ? '' : `:${verb}`}`);
    });

  // The documented order written differently: one digit per segment (literal 0, * 1, ** 2),
  // then 0 for a verb and 1 without; the smallest string is the most specific template.
  const rankKind = { literal: '0', star: '1', 'double-star': '2' } as const;
  const specificityKey = (t: PathTemplate) =>
    t.segments.map((s) => rankKind[s.kind]).join('') + (t.verb === undefined ? '1' : '0');

  it('finds a match exactly when some template of the method matches, and then the most specific one', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(template, { selector: (t) => t.shape, maxLength: 8 }),
        fc.array(segment, { maxLength: 5 }),
        fc.constantFrom('', ':go', ':y'),
        (templates, segments, verb) => {
          const path = `/${segments.join('/')}${segments.length > 0 ? verb : ''}`;
          const routes = buildRouteTable(
            templates.map((t) => ({ method: 'GET', template: t, value: t, describe: t.text })),
          );
          const matching = templates.filter((t) => matchPath(t, path) !== undefined);
          const result = routes.match('GET', path);
          if (matching.length === 0) {
            assert.equal(result.kind, 'not-found');
            return;
          }
          assert.equal(result.kind, 'found');
          if (result.kind !== 'found') return;
          const best = matching.map(specificityKey).sort()[0];
          assert.ok(matching.includes(result.value));
          assert.equal(specificityKey(result.value), best, `${result.value.text} for ${path}`);
          assert.deepEqual(result.params, matchPath(result.value, path));
        },
      ),
      { numRuns: 300, interruptAfterTimeLimit: 4000 },
    );
  });
});
