import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { badRequestDetail, boundedViolations, maxListedViolations, violationsNotListed } from '../../src/errors/gateway-error.js';
import { assertEnvelope, fieldViolations, request, startStack, type Stack } from '../transcoding-e2e/harness.js';

/*
 * A 400 lists at most maxListedViolations violations and says how many it left out, however
 * many the request has: 2,000 bad query parameters once made a 124 KB body.
 */

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

const note = (count: number) => ({ field: '', description: `${count} more violations not listed` });

describe('a 400 with many violations', () => {
  it('lists the first 20 of 2,000 bad query parameters and counts the rest', async () => {
    const query = Array.from({ length: 2000 }, () => 'a=1').join('&');
    const result = await request(stack, `/v1/items/x?${query}`);
    const envelope = assertEnvelope(result, 400, 'INVALID_ARGUMENT');
    assert.ok(Buffer.byteLength(result.text) < 4096, `a ${Buffer.byteLength(result.text)}-byte body`);
    const violations = fieldViolations(envelope);
    assert.equal(violations.length, maxListedViolations + 1);
    assert.deepEqual(violations[0], { field: 'a', description: 'unknown query parameter' });
    assert.deepEqual(violations.at(-1), note(1980));
  });

  it('bounds the violations of a body the same way', async () => {
    const result = await request(stack, '/v1/items/x', { method: 'PUT', body: { numbers: Array.from({ length: 2000 }, () => 'x') } });
    const envelope = assertEnvelope(result, 400, 'INVALID_ARGUMENT');
    assert.ok(Buffer.byteLength(result.text) < 4096, `a ${Buffer.byteLength(result.text)}-byte body`);
    const violations = fieldViolations(envelope);
    assert.equal(violations.length, maxListedViolations + 1);
    assert.deepEqual(violations[19], { field: 'numbers[19]', description: 'expected an integer string or number (int64)' });
    assert.deepEqual(violations.at(-1), note(1980));
  });

  it('lists every violation when there are at most 20', async () => {
    const query = Array.from({ length: maxListedViolations }, (_, i) => `u${i}=1`).join('&');
    const violations = fieldViolations(assertEnvelope(await request(stack, `/v1/items/x?${query}`), 400, 'INVALID_ARGUMENT'));
    assert.deepEqual(
      violations.map((v) => v.field),
      Array.from({ length: maxListedViolations }, (_, i) => `u${i}`),
    );
  });
});

describe('badRequestDetail', () => {
  const violation = (i: number) => ({ field: `f${i}`, description: 'is bad' });

  it('cuts any longer list to 20 and a note, whoever built it', () => {
    const detail = badRequestDetail(Array.from({ length: 25 }, (_, i) => violation(i)));
    assert.deepEqual(detail['fieldViolations'], [...Array.from({ length: 20 }, (_, i) => violation(i)), { field: '', description: '5 more violations not listed' }]);
  });

  it('leaves a list already cut as it is, and says "1 more violation" in the singular', () => {
    const cut = [...Array.from({ length: 20 }, (_, i) => violation(i)), violationsNotListed(1)];
    assert.equal(boundedViolations(cut), cut);
    assert.deepEqual(cut.at(-1), { field: '', description: '1 more violation not listed' });
  });
});
