import { Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import { hashKeyMetadata } from './balancing/ring-hash.js';

/** Connection-level headers (RFC 9110 §7.6.1) and HTTP/2 framing headers never become metadata. */
export const hopByHopHeaders: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-type',
  'grpc-timeout',
]);

const forwardedFor = 'x-forwarded-for';

/**
 * Builds the metadata of one upstream call: the request id, the allow-listed request headers
 * and the verified identity. The identity keys (`identityKeys`, every key a verified claim may
 * be forwarded as) never come from a header, even when the allow-list names them, so a client
 * cannot spoof them: not when a token carries the claim, nor when there is no token or claim.
 * `x-forwarded-for` in the allow-list stands for the client address the gateway determined
 * (policies/client-address.ts), never the header as received, which any client can fill with
 * any address.
 */
export class MetadataBuilder {
  readonly #headers: readonly string[];
  readonly #forwardClientAddress: boolean;

  constructor(allowList: readonly string[], identityKeys: readonly string[] = []) {
    const reserved = new Set(identityKeys);
    this.#forwardClientAddress = allowList.includes(forwardedFor) && !reserved.has(forwardedFor);
    // The hash key is the gateway's own (call-context.ts): a client never chooses its replica with it.
    this.#headers = allowList.filter(
      (name) => !hopByHopHeaders.has(name) && name !== 'x-request-id' && name !== forwardedFor && name !== hashKeyMetadata && !reserved.has(name),
    );
  }

  build(headers: IncomingHttpHeaders, requestId: string, identity: ReadonlyMap<string, string> | undefined, clientAddress: string | undefined): Metadata {
    const metadata = new Metadata();
    metadata.set('x-request-id', requestId);
    for (const name of this.#headers) {
      const value = headers[name];
      if (value === undefined || identity?.has(name)) continue;
      if (typeof value === 'string') {
        if (isPrintableAscii(value)) metadata.add(name, value);
      } else {
        for (const item of value) if (isPrintableAscii(item)) metadata.add(name, item);
      }
    }
    if (this.#forwardClientAddress && clientAddress !== undefined) metadata.set(forwardedFor, clientAddress);
    if (identity) for (const [key, value] of identity) metadata.set(key, encodeMetadataValue(value));
    return metadata;
  }
}

/** gRPC ASCII metadata values are restricted to printable ASCII. */
function isPrintableAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}

/**
 * A claim value as ASCII metadata can carry it: the bytes of its UTF-8 form outside printable
 * ASCII, and `%` itself, become `%XX` (upper-case hex), as gRPC encodes grpc-message; every
 * other character is kept. `decodeURIComponent` reverses it. Without this, grpc-js throws on
 * "ålice" or a value with CR/LF, and every request of that user would fail.
 */
function encodeMetadataValue(value: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(value)) return value;
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    encoded += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}
