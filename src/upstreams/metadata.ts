import { Metadata } from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';

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

/**
 * Builds the metadata of one upstream call: the request id, the allow-listed request headers
 * and the verified identity. The identity keys (`identityKeys`, every key a verified claim may
 * be forwarded as) never come from a header, even when the allow-list names them, so a client
 * cannot spoof them: not when a token carries the claim, nor when there is no token or claim.
 */
export class MetadataBuilder {
  readonly #headers: readonly string[];

  constructor(allowList: readonly string[], identityKeys: readonly string[] = []) {
    const reserved = new Set(identityKeys);
    this.#headers = allowList.filter((name) => !hopByHopHeaders.has(name) && name !== 'x-request-id' && !reserved.has(name));
  }

  build(headers: IncomingHttpHeaders, requestId: string, identity: ReadonlyMap<string, string> | undefined): Metadata {
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
    if (identity) for (const [key, value] of identity) metadata.set(key, value);
    return metadata;
  }
}

/** gRPC ASCII metadata values are restricted to printable ASCII. */
function isPrintableAscii(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value);
}
