import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Type from 'typebox';
import { defineAclRoute, type BoundedContext } from '../../src/contexts/acl-route.js';
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.js';
import { envelopeOf } from '../support/http.js';
import { probeIncludeDir, probeMethod, probeProtoFile, ProbeService, startProbeBackend, upstreamViolation, type ProbeBackend } from '../support/probe-backend.js';

/*
 * The gRPC → HTTP table of the README, row by row, against a real upstream that fails with
 * whatever code it is asked for: the status, the envelope, which messages and details reach
 * the client, and per-route message overrides of a hand-written route.
 */

const table = [
  { code: 0, name: 'OK', http: 200 },
  { code: 1, name: 'CANCELLED', http: 499 },
  { code: 2, name: 'UNKNOWN', http: 500 },
  { code: 3, name: 'INVALID_ARGUMENT', http: 400 },
  { code: 4, name: 'DEADLINE_EXCEEDED', http: 504 },
  { code: 5, name: 'NOT_FOUND', http: 404 },
  { code: 6, name: 'ALREADY_EXISTS', http: 409 },
  { code: 7, name: 'PERMISSION_DENIED', http: 403 },
  { code: 8, name: 'RESOURCE_EXHAUSTED', http: 429 },
  { code: 9, name: 'FAILED_PRECONDITION', http: 400 },
  { code: 10, name: 'ABORTED', http: 409 },
  { code: 11, name: 'OUT_OF_RANGE', http: 400 },
  { code: 12, name: 'UNIMPLEMENTED', http: 501 },
  { code: 13, name: 'INTERNAL', http: 500 },
  { code: 14, name: 'UNAVAILABLE', http: 503 },
  { code: 15, name: 'DATA_LOSS', http: 500 },
  { code: 16, name: 'UNAUTHENTICATED', http: 401 },
] as const;

/** The codes whose upstream message and details must never reach the client. */
const hidden = new Set(['UNKNOWN', 'INTERNAL', 'DATA_LOSS']);

/** Transport failures, mostly worded by grpc-js: the gateway's message, the upstream's details. */
const transportMessages: Record<string, string> = {
  DEADLINE_EXCEEDED: 'the upstream service did not answer in time',
  UNIMPLEMENTED: 'the upstream service does not implement this method',
  UNAVAILABLE: 'the upstream service is unavailable',
};

const fail = probeMethod(ProbeService, 'Fail');

/** A hand-written route over ProbeService.Fail with its own client-facing messages. */
const thingsContext: BoundedContext = {
  name: 'things',
  prefix: '/v1/things',
  service: 'probe',
  routes: [
    defineAclRoute({
      method: 'GET',
      url: '/{code}',
      summary: 'A thing, failing with the given gRPC code',
      auth: 'none',
      schema: { params: Type.Object({ code: Type.String({ pattern: '^[0-9]{1,2}$' }) }) },
      rpc: fail,
      toRequest: ({ params }) => ({ code: Number(params.code), message: `no row in things where code=${params.code}`, withDetails: true }),
      reply: fail.output,
      toReply: (response) => response,
      errors: { NOT_FOUND: 'thing not found', UNAVAILABLE: 'things are resting, try again later' },
    }),
  ],
};

let backend: ProbeBackend;
let gw: RunningGateway;

before(async () => {
  backend = await startProbeBackend();
  gw = await startGateway(
    testConfig({
      protos: { includeDirs: [probeIncludeDir] },
      services: [{ name: 'probe', protoFiles: [probeProtoFile], service: 'probe.v1.ProbeService', address: backend.address }],
    }),
    { contexts: [thingsContext] },
  );
});

after(async () => {
  await gw?.close();
  await backend?.close();
});

/** A message specific to one call, so a leak anywhere can be searched for. */
const secretFor = (name: string): string => `db-host=10.0.0.7 stack at Repo.find (${name.toLowerCase()})`;

async function failWith(code: number, message: string, withDetails: boolean) {
  const query = new URLSearchParams({ message, with_details: String(withDetails) });
  const response = await fetch(`${gw.url}/v1/fail/${code}?${query}`);
  const text = await response.text();
  return { response, text, body: JSON.parse(text) as unknown };
}

describe('gRPC status → HTTP status', () => {
  for (const row of table) {
    if (row.name === 'OK') {
      it('answers OK with 200 and the response message', async () => {
        const { response, body } = await failWith(0, 'unused', false);
        assert.equal(response.status, 200);
        assert.deepEqual(body, { outcome: 'ok' });
      });
      continue;
    }
    if (hidden.has(row.name)) {
      it(`answers ${row.name} with ${row.http} and a generic message, leaking neither message nor details`, async () => {
        const secret = secretFor(row.name);
        const { response, text, body } = await failWith(row.code, secret, true);
        assert.equal(response.status, row.http);
        const error = envelopeOf(body);
        assert.equal(error.code, row.http);
        assert.equal(error.status, row.name);
        assert.equal(error.message, 'internal error');
        assert.deepEqual(error.details, []);
        assert.equal(error.requestId, response.headers.get('x-request-id'));
        assert.ok(!text.includes('10.0.0.7') && !text.includes('Repo.find'), 'the upstream message reached the body');
        assert.ok(!text.includes('thing.name'), 'the upstream details reached the body');
        for (const [name, value] of response.headers) {
          assert.ok(!value.includes('10.0.0.7') && !value.includes('Repo.find'), `the upstream message reached header ${name}`);
          assert.ok(!name.startsWith('grpc-'), `the upstream's ${name} was passed through`);
        }
        // The operator still sees what happened.
        assert.ok(JSON.stringify(gw.logs).includes(secret), 'the upstream message is missing from the log');
      });
      continue;
    }
    const transportMessage = transportMessages[row.name];
    it(`answers ${row.name} with ${row.http}, ${transportMessage ? "with the gateway's message" : 'keeping the upstream message'}`, async () => {
      const message = `${row.name.toLowerCase()} says: quota of widget 7 used up`;
      const { response, body } = await failWith(row.code, message, false);
      assert.equal(response.status, row.http);
      const error = envelopeOf(body);
      assert.equal(error.code, row.http);
      assert.equal(error.status, row.name);
      assert.equal(error.message, transportMessage ?? message);
      assert.deepEqual(error.details, []);
      assert.equal(error.requestId, response.headers.get('x-request-id'));
    });
  }

  it('counts each failed call under its gRPC code name in the upstream metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    for (const row of table) {
      assert.match(text, new RegExp(`^portico_upstream_calls_total\\{service="probe",method="Fail",code="${row.name}"\\} [1-9]\\d*$`, 'm'), row.name);
    }
  });
});

describe('google.rpc.Status details', () => {
  const badRequestJson = { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [upstreamViolation] };

  for (const row of table.filter((r) => r.name !== 'OK' && !hidden.has(r.name))) {
    it(`passes the upstream's details of ${row.name} through as proto3 JSON with @type`, async () => {
      const { response, body } = await failWith(row.code, 'thing is invalid', true);
      assert.equal(response.status, row.http);
      const error = envelopeOf(body);
      assert.equal(error.message, transportMessages[row.name] ?? 'thing is invalid');
      assert.deepEqual(error.details, [badRequestJson]);
    });
  }

  it('drops the details of INTERNAL even when the upstream sends them', async () => {
    const { body } = await failWith(13, 'thing is invalid', true);
    assert.deepEqual(envelopeOf(body).details, []);
  });
});

describe('per-route message overrides of a hand-written route', () => {
  it('replaces the upstream message of an overridden code, and drops its details', async () => {
    const response = await fetch(`${gw.url}/v1/things/5`);
    assert.equal(response.status, 404);
    const text = await response.text();
    const error = envelopeOf(JSON.parse(text));
    assert.equal(error.status, 'NOT_FOUND');
    assert.equal(error.message, 'thing not found');
    assert.deepEqual(error.details, []);
    assert.ok(!text.includes('no row in things'));
  });

  it('applies each override to its own code only', async () => {
    const response = await fetch(`${gw.url}/v1/things/14`);
    assert.equal(response.status, 503);
    assert.equal(envelopeOf(await response.json()).message, 'things are resting, try again later');
  });

  it('keeps the upstream message and details of a code without an override', async () => {
    const response = await fetch(`${gw.url}/v1/things/7`);
    assert.equal(response.status, 403);
    const error = envelopeOf(await response.json());
    assert.equal(error.status, 'PERMISSION_DENIED');
    assert.equal(error.message, 'no row in things where code=7');
    assert.deepEqual(error.details, [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [upstreamViolation] }]);
  });

  it('still hides INTERNAL messages on a hand-written route', async () => {
    const response = await fetch(`${gw.url}/v1/things/13`);
    assert.equal(response.status, 500);
    const error = envelopeOf(await response.json());
    assert.equal(error.message, 'internal error');
    assert.deepEqual(error.details, []);
  });

  it('answers success through the route module with the public reply', async () => {
    const response = await fetch(`${gw.url}/v1/things/0`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { outcome: 'ok' });
  });
});
