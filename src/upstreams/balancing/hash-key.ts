import type { FastifyRequest } from 'fastify';
import type { HashOn } from '../../config/schema.js';
import { verifiedClaim } from '../../policies/auth.js';
import type { Identity } from '../call-context.js';
import { ringPosition } from './ring-hash.js';

/** A request's place on the ring (ring-hash.ts), or undefined when it carries no key. */
export type HashKeyReader = (request: FastifyRequest, identity: Identity | undefined) => number | undefined;

/** Reads the key `hashOn` names: a header, a claim of the verified token, or a query parameter. */
export function hashKeyReader(hashOn: HashOn): HashKeyReader {
  const position = (key: string | undefined) => (key === undefined || key === '' ? undefined : ringPosition(key));
  if ('header' in hashOn) {
    const name = hashOn.header;
    return (request) => {
      const value = request.headers[name];
      return position(Array.isArray(value) ? value[0] : value);
    };
  }
  if ('claim' in hashOn) {
    const name = hashOn.claim;
    return (_request, identity) => position(verifiedClaim(identity, name));
  }
  const name = hashOn.query;
  return (request) => {
    const url = request.raw.url ?? '';
    const queryStart = url.indexOf('?');
    return queryStart < 0 ? undefined : position(new URLSearchParams(url.slice(queryStart + 1)).get(name) ?? undefined);
  };
}
