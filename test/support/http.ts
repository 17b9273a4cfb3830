import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * One request with node:http, for headers fetch will not send (hop-by-hop ones such as
 * `te` or `upgrade`) and for exact control of the socket.
 */
export function rawRequest(url: string, options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The error envelope of a response body, failing loudly when the body is not one. */
export interface Envelope {
  error: { code: number; status: string; message: string; requestId: string; traceId?: string; details: Record<string, unknown>[] };
}

export function envelopeOf(body: unknown): Envelope['error'] {
  const error = (body as Partial<Envelope> | null)?.error;
  if (!error || typeof error.code !== 'number' || typeof error.status !== 'string') {
    throw new Error(`not an error envelope: ${JSON.stringify(body)}`);
  }
  return error;
}
