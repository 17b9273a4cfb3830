import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InvalidJsonError, parseJsonExact } from '../../src/transcoding/exact-json.js';

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
