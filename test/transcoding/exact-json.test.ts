import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hasLongIntegerLiteral, InvalidJsonError, parseJsonExact } from '../../src/transcoding/exact-json.js';

describe('parseJsonExact', () => {
  it('parses ordinary JSON exactly like JSON.parse', () => {
    const text = '{"a":[1,-2.5,true,null,"x"],"b":{"c":1e3,"d":9007199254740991}}';
    assert.deepEqual(parseJsonExact(text), JSON.parse(text));
  });

  it('returns integers beyond 2^53-1 as their exact source digits', () => {
    assert.deepEqual(parseJsonExact('{"id":12345678901234567890,"list":[-9223372036854775808,9007199254740993]}'), {
      id: '12345678901234567890',
      list: ['-9223372036854775808', '9007199254740993'],
    });
    assert.equal(parseJsonExact('18446744073709551615'), '18446744073709551615');
  });

  it('keeps integers at the edge of the safe range as numbers', () => {
    assert.deepEqual(parseJsonExact('[9007199254740991,-9007199254740991,1000000000000000]'), [
      9007199254740991, -9007199254740991, 1000000000000000,
    ]);
  });

  it('leaves large numbers with a fraction or exponent as numbers', () => {
    assert.deepEqual(parseJsonExact('[12345678901234567890.5,1e20,12345678901234567e3]'), [12345678901234567890.5, 1e20, 12345678901234567e3]);
  });

  it('leaves long digit runs inside strings untouched', () => {
    assert.deepEqual(parseJsonExact('{"card":"4111111111111111111","n":1}'), { card: '4111111111111111111', n: 1 });
  });

  it('throws a SyntaxError whose message names the problem without echoing the input', () => {
    const secret = '{"password":"hunter2", }';
    assert.throws(
      () => parseJsonExact(secret),
      (err: unknown) => {
        assert.ok(err instanceof InvalidJsonError);
        assert.ok(err instanceof SyntaxError);
        assert.match(err.message, /^request body is not valid JSON: \S/);
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  it('cuts the input excerpt V8 appends to "Unexpected token" messages, also on the slow path', () => {
    for (const text of ['{"secret": x12345678901234567890}', '{"secret":"abc"} trailing', '{"secret":}', 'secret']) {
      assert.throws(
        () => parseJsonExact(text),
        (err: Error) => {
          assert.match(err.message, /^request body is not valid JSON: /);
          assert.doesNotMatch(err.message, /is not valid JSON$/);
          assert.doesNotMatch(err.message, /secret/);
          return true;
        },
      );
    }
  });

  it('rejects an empty body', () => {
    assert.throws(() => parseJsonExact(''), /request body is not valid JSON: Unexpected end of JSON input/);
  });

  it('returns the exact digits of any integer, as a number when safe and as a string otherwise', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), (n) => {
        const digits = n.toString();
        const parsed = parseJsonExact(`{"v":[${digits}]}`) as { v: [unknown] };
        const safe = n >= -(2n ** 53n - 1n) && n <= 2n ** 53n - 1n;
        assert.deepEqual(parsed.v[0], safe ? Number(n) : digits);
      }),
      { numRuns: 200, interruptAfterTimeLimit: 4000 },
    );
  });
});

describe('hasLongIntegerLiteral', () => {
  it('finds integers of 16 or more digits outside strings', () => {
    for (const text of ['12345678901234567890', '{"id":9007199254740993}', '[-9223372036854775808]', '{"a":"x","b":1234567890123456}', '{"s":"\\\\","n":1234567890123456}']) {
      assert.equal(hasLongIntegerLiteral(text), true, text);
    }
  });

  it('ignores digit runs inside strings, escaped quotes included, and in fractions and exponents', () => {
    for (const text of [
      '{"id":"9223372036854775807"}',
      '{"card":"4111111111111111111","n":1}',
      '{"s":"say \\"1234567890123456\\" twice"}',
      '{"key1234567890123456":1}',
      '[0.30000000000000004,1e1234567890123456,2E-1234567890123456]',
      '[123456789012345]',
    ]) {
      assert.equal(hasLongIntegerLiteral(text), false, text);
    }
  });

  it('agrees with the literals JSON.parse reads, for random documents mixing quoted and bare long integers', () => {
    const value = fc.letrec((tie) => ({
      leaf: fc.oneof(
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => ({ raw: n.toString() })),
        fc.bigInt({ min: 0n, max: 2n ** 70n }).map((n) => n.toString()),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.string(),
      ),
      node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('node'), { maxKeys: 4 })),
    })).node;
    const write = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
      if (typeof v === 'object' && v !== null) {
        if ('raw' in v && typeof v.raw === 'string') return v.raw;
        return `{${Object.entries(v).map(([k, item]) => `${JSON.stringify(k)}:${write(item)}`).join(',')}}`;
      }
      return JSON.stringify(v);
    };
    fc.assert(
      fc.property(value, (v) => {
        const text = write(v);
        let expected = false;
        JSON.parse(text, (_key, parsed: unknown, context?: { source?: string }) => {
          if (typeof parsed === 'number' && /^-?\d{16}/.test(context?.source ?? '')) expected = true;
          return parsed;
        });
        assert.equal(hasLongIntegerLiteral(text), expected, text);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 4000 },
    );
  });

  it("leaves parseJsonExact's results unchanged: quoted long integers stay strings, bare ones become their digits", () => {
    assert.deepEqual(parseJsonExact('{"id":"9223372036854775807","n":[1,2.5]}'), { id: '9223372036854775807', n: [1, 2.5] });
    assert.deepEqual(parseJsonExact('{"id":"9223372036854775807","big":9223372036854775807}'), { id: '9223372036854775807', big: '9223372036854775807' });
  });
});
