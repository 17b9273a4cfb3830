import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchPath, parsePathTemplate, PathDecodeError } from '../../src/transcoding/path-template.js';

function match(template: string, path: string): Record<string, string> | undefined {
  const values = matchPath(parsePathTemplate(template), path);
  return values && Object.fromEntries(values);
}

describe('parsePathTemplate', () => {
  it('keeps the text, splits off the verb and lists the variables in order', () => {
    const template = parsePathTemplate('/v1/{parent=shelves/*}/books/{book.id}:publish');
    assert.equal(template.text, '/v1/{parent=shelves/*}/books/{book.id}:publish');
    assert.equal(template.verb, 'publish');
    assert.deepEqual(
      template.variables.map((v) => v.fieldPath),
      [['parent'], ['book', 'id']],
    );
  });

  it('gives a shape with each variable replaced by its pattern', () => {
    assert.equal(parsePathTemplate('/v1/{name=shelves/*}:cancel').shape, '/v1/shelves/*:cancel');
    assert.equal(parsePathTemplate('/v1/{name}').shape, '/v1/*');
    assert.equal(parsePathTemplate('/v1/{name=**}').shape, '/v1/**');
    assert.equal(parsePathTemplate('/v1/*/x/**').shape, '/v1/*/x/**');
  });

  it('gives {x} and {x=*} the same shape', () => {
    assert.equal(parsePathTemplate('/v1/{x}').shape, parsePathTemplate('/v1/{x=*}').shape);
  });

  it('has no verb when the colon is inside a variable or before the last segment', () => {
    assert.equal(parsePathTemplate('/v1/{name=a:b}').verb, undefined);
    assert.equal(parsePathTemplate('/v1/a:b/c').verb, undefined);
  });

  const invalid: [string, RegExp][] = [
    ['', /must start with "\/"/],
    ['v1/x', /must start with "\/"/],
    ['/', /empty segment/],
    ['/v1//x', /empty segment/],
    ['/v1/x/', /empty segment/],
    ['/v1/{x=}', /empty segment/],
    ['/v1/{x=a//b}', /empty segment/],
    ['/v1/**/x', /"\*\*" must be the last segment/],
    ['/v1/{x=**}/y', /"\*\*" must be the last segment/],
    ['/v1/{x=**}/{y}', /"\*\*" must be the last segment/],
    ['/v1/{x', /unbalanced braces/],
    ['/v1/x}', /unbalanced braces/],
    ['/v1/{x={y}}', /nested variables/],
    ['/v1/{x}/{x}', /duplicate variable "x"/],
    ['/v1/{a.b}/{a.b=*}', /duplicate variable "a.b"/],
    ['/v1/{}', /invalid field path/],
    ['/v1/{a..b}', /invalid field path/],
    ['/v1/{1a}', /invalid field path/],
    ['/v1/x:', /empty verb/],
    ['/v1/x:a*', /invalid verb/],
    ['/v1/a*', /unexpected "\*"/],
    ['/v1/***', /unexpected "\*"/],
    ['/v1/{x}y', /unexpected "y"/],
    ['/v1/x{y}', /unexpected "{"/],
  ];
  for (const [text, problem] of invalid) {
    it(`rejects ${JSON.stringify(text)} with a message naming the template and the problem`, () => {
      assert.throws(
        () => parsePathTemplate(text),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(`"${text}"`), err.message);
          assert.match(err.message, problem);
          return true;
        },
      );
    });
  }
});

describe('matchPath', () => {
  it('matches literal segments exactly and captures nothing', () => {
    assert.deepEqual(match('/v1/shelves', '/v1/shelves'), {});
    assert.equal(match('/v1/shelves', '/v1/books'), undefined);
    assert.equal(match('/v1/shelves', '/v1'), undefined);
    assert.equal(match('/v1/shelves', '/v1/shelves/x'), undefined);
  });

  it('binds {field} to exactly one segment', () => {
    assert.deepEqual(match('/v1/shelves/{shelf}', '/v1/shelves/42'), { shelf: '42' });
    assert.equal(match('/v1/shelves/{shelf}', '/v1/shelves/42/x'), undefined);
  });

  it('binds {field=prefix/*} to the prefix and the segment after it', () => {
    assert.deepEqual(match('/v1/{name=shelves/*}', '/v1/shelves/42'), { name: 'shelves/42' });
    assert.equal(match('/v1/{name=shelves/*}', '/v1/books/42'), undefined);
  });

  it('keys nested field paths like {a.b.c} by their dotted name', () => {
    assert.deepEqual(match('/v1/{a.b.c}/{d}', '/v1/x/y'), { 'a.b.c': 'x', d: 'y' });
  });

  it('lets a bare * match any one segment without capturing it', () => {
    assert.deepEqual(match('/v1/*/books', '/v1/anything/books'), {});
    assert.equal(match('/v1/*/books', '/v1/books'), undefined);
  });

  it('lets a bare ** match zero or more segments', () => {
    assert.deepEqual(match('/v1/**', '/v1'), {});
    assert.deepEqual(match('/v1/**', '/v1/a'), {});
    assert.deepEqual(match('/v1/**', '/v1/a/b/c'), {});
    assert.deepEqual(match('/**', '/'), {});
  });

  it('binds {x=**} to the rest of the path, or to "" when nothing is left', () => {
    assert.deepEqual(match('/v1/{x=**}', '/v1/a/b/c'), { x: 'a/b/c' });
    assert.deepEqual(match('/v1/{x=**}', '/v1/a'), { x: 'a' });
    assert.deepEqual(match('/v1/{x=**}', '/v1'), { x: '' });
    assert.deepEqual(match('/v1/{x=shelves/**}', '/v1/shelves/a/b'), { x: 'shelves/a/b' });
    assert.deepEqual(match('/v1/{x=shelves/**}', '/v1/shelves'), { x: 'shelves' });
  });

  it('matches literal segments that follow a variable', () => {
    assert.deepEqual(match('/v1/{shelf}/books/{book}', '/v1/s1/books/b2'), { shelf: 's1', book: 'b2' });
    assert.equal(match('/v1/{shelf}/books/{book}', '/v1/s1/novels/b2'), undefined);
  });

  it('matches a custom verb split off the last segment', () => {
    assert.deepEqual(match('/v1/{name=ops/*}:cancel', '/v1/ops/123:cancel'), { name: 'ops/123' });
    assert.deepEqual(match('/v1/{name}:cancel', '/v1/a:b:cancel'), { name: 'a:b' });
    assert.deepEqual(match('/v1/ops:list', '/v1/ops:list'), {});
    assert.deepEqual(match('/v1/{x=**}:undo', '/v1:undo'), { x: '' });
  });

  it('requires the verb when the template has one', () => {
    assert.equal(match('/v1/{name=ops/*}:cancel', '/v1/ops/123'), undefined);
    assert.equal(match('/v1/{name=ops/*}:cancel', '/v1/ops/123:delete'), undefined);
    assert.equal(match('/v1/{name}:cancel', '/v1/:cancel'), undefined);
  });

  it('treats an encoded colon as data, not as a verb separator', () => {
    assert.equal(match('/v1/{name}:cancel', '/v1/abc%3Acancel'), undefined);
    assert.deepEqual(match('/v1/{name}', '/v1/abc%3Acancel'), { name: 'abc:cancel' });
  });

  it('matches the last segment as-is, colon included, when the template has no verb', () => {
    assert.deepEqual(match('/v1/{name}', '/v1/ops:cancel'), { name: 'ops:cancel' });
    assert.deepEqual(match('/v1/{name=**}', '/v1/a/b:c'), { name: 'a/b:c' });
    assert.deepEqual(match('/v1/*', '/v1/:x'), {});
  });

  it('keeps a colon inside an earlier segment as part of that segment', () => {
    assert.deepEqual(match('/v1/a:b/{c}', '/v1/a:b/x'), { c: 'x' });
  });

  it('does not match trailing slashes or empty segments', () => {
    assert.equal(match('/v1/{name}', '/v1/x/'), undefined);
    assert.equal(match('/v1/{name}', '/v1//x'), undefined);
    assert.equal(match('/v1/{name=**}', '/v1/a//b'), undefined);
    assert.equal(match('/v1/**', '/v1/'), undefined);
    assert.equal(match('/v1/{name}', 'v1/x'), undefined);
    assert.equal(match('/v1/{name}', ''), undefined);
  });

  it('compares literal segments with the percent-decoded path segment', () => {
    assert.deepEqual(match('/v1/shelves', '/v1/%73helves'), {});
    assert.deepEqual(match('/v1/a b', '/v1/a%20b'), {});
  });

  it('fully decodes a single-segment variable, %2F included', () => {
    assert.deepEqual(match('/v1/{name}', '/v1/a%2Fb%20c'), { name: 'a/b c' });
    assert.deepEqual(match('/v1/{name=*}', '/v1/a%2fb'), { name: 'a/b' });
    assert.deepEqual(match('/v1/{name}:go', '/v1/x%2Fy:go'), { name: 'x/y' });
  });

  it('decodes a multi-segment variable except %2F, which is kept as sent', () => {
    assert.deepEqual(match('/v1/{name=shelves/*}', '/v1/shelves/a%2Fb%20c'), { name: 'shelves/a%2Fb c' });
    assert.deepEqual(match('/v1/{name=**}', '/v1/a%2fb/c%25d'), { name: 'a%2fb/c%d' });
  });

  it('decodes multi-byte UTF-8 escapes', () => {
    assert.deepEqual(match('/v1/{name}', '/v1/%E2%82%AC%F0%9F%98%80'), { name: '€😀' });
    assert.deepEqual(match('/v1/{name=**}', '/v1/caf%C3%A9/%E0%A4%B9'), { name: 'café/ह' });
  });

  it('does not decode "+" as a space', () => {
    assert.deepEqual(match('/v1/{name}', '/v1/a+b'), { name: 'a+b' });
  });

  for (const path of ['/v1/%zz', '/v1/%E0%A4', '/v1/%', '/v1/a%2', '/v1/%C0%AF', '/v1/%ED%A0%80', '/v1/x:%zz']) {
    it(`throws PathDecodeError for the invalid escape in ${path}`, () => {
      assert.throws(() => matchPath(parsePathTemplate('/v1/{name}'), path), PathDecodeError);
    });
  }

  it('throws PathDecodeError even when the bad escape is in a segment the template would not match', () => {
    assert.throws(() => matchPath(parsePathTemplate('/v2/{name}'), '/v1/%zz'), PathDecodeError);
  });
});

describe('matchPath properties', () => {
  const runs = { numRuns: 300, interruptAfterTimeLimit: 4000 };

  // Any code point, with the ones that matter to paths and encoding made frequent.
  const valueUnit = fc.oneof(
    fc.constantFrom('/', '%', ':', '.', '+', ' ', '?', '#', '*', '{', 'é', '€', '😀', 'a'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  const segmentValue = fc.string({ unit: valueUnit, minLength: 1, maxLength: 8 });
  const literal = fc.stringMatching(/^[a-z0-9._~-]{1,6}$/);

  type Part =
    | { kind: 'literal'; text: string }
    | { kind: 'single'; values: [string] }
    | { kind: 'multi'; prefix: string; values: string[] }
    | { kind: 'rest'; values: string[] };

  const middlePart: fc.Arbitrary<Part> = fc.oneof(
    literal.map((text): Part => ({ kind: 'literal', text })),
    segmentValue.map((v): Part => ({ kind: 'single', values: [v] })),
    fc
      .tuple(literal, fc.array(segmentValue, { minLength: 1, maxLength: 3 }))
      .map(([prefix, values]): Part => ({ kind: 'multi', prefix, values })),
  );
  const lastPart: fc.Arbitrary<Part | null> = fc.option(
    fc.array(segmentValue, { maxLength: 3 }).map((values): Part => ({ kind: 'rest', values })),
  );

  it('recovers the encoded values of every variable', () => {
    fc.assert(
      fc.property(
        fc.array(middlePart, { minLength: 1, maxLength: 5 }),
        lastPart,
        fc.option(literal),
        (middle, rest, verb) => {
          const parts = rest === null ? middle : [...middle, rest];
          const templateSegments: string[] = [];
          const pathSegments: string[] = [];
          const expected: Record<string, string> = {};
          parts.forEach((part, i) => {
            const name = `f${i}.v`;
            switch (part.kind) {
              case 'literal':
                templateSegments.push(part.text);
                pathSegments.push(encodeURIComponent(part.text));
                break;
              case 'single':
                templateSegments.push(`{${name}}`);
                pathSegments.push(encodeURIComponent(part.values[0]));
                expected[name] = part.values[0];
                break;
              case 'multi':
                templateSegments.push(`{${name}=${part.prefix}/${part.values.map(() => '*').join('/')}}`);
                pathSegments.push(part.prefix, ...part.values.map(encodeURIComponent));
                expected[name] = [part.prefix, ...part.values.map((v) => v.replaceAll('/', '%2F'))].join('/');
                break;
              case 'rest':
                templateSegments.push(`{${name}=**}`);
                pathSegments.push(...part.values.map(encodeURIComponent));
                expected[name] = part.values.map((v) => v.replaceAll('/', '%2F')).join('/');
                break;
            }
          });
          const suffix = verb === null ? '' : `:${verb}`;
          const template = parsePathTemplate(`/${templateSegments.join('/')}${suffix}`);
          const path = `/${pathSegments.join('/')}${suffix}`;
          assert.deepEqual(Object.fromEntries(matchPath(template, path) ?? []), expected, path);
        },
      ),
      runs,
    );
  });

  it('never throws anything but PathDecodeError on arbitrary paths', () => {
    const templates = [
      '/v1/{name}',
      '/v1/{name=shelves/*}/books/{book}:publish',
      '/v1/{rest=**}',
      '/**:verb',
      '/{a.b}/x/*',
    ].map(parsePathTemplate);
    const pathChar = fc.constantFrom('/', '%', ':', 'a', '2', 'F', 'E', '0', 'v', '1', '{', ' ', 'é');
    const path = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: pathChar }),
      fc.string({ unit: pathChar }).map((s) => `/${s}`),
    );
    fc.assert(
      fc.property(path, (raw) => {
        for (const template of templates) {
          try {
            const values = matchPath(template, raw);
            assert.ok(values === undefined || values instanceof Map);
          } catch (err) {
            if (!(err instanceof PathDecodeError)) throw err;
          }
        }
      }),
      runs,
    );
  });
});
