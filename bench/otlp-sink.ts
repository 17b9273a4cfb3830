import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A stand-in OTLP/HTTP collector: accepts every POST /v1/traces and discards it. */
export interface OtlpSink {
  /** The base URL, for the gateway's tracing.endpoint. */
  readonly url: string;
  /** Export requests and body bytes accepted so far. */
  readonly received: { posts: number; bytes: number };
  close(): Promise<void>;
}

/**
 * Started by the bench in its own process when a tracing case runs. It answers at once with an
 * empty ExportTraceServiceResponse (zero protobuf bytes), so the gateway's cost is what is
 * measured, not a collector's.
 */
export async function startOtlpSink(): Promise<OtlpSink> {
  const received = { posts: 0, bytes: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', (chunk: Buffer) => {
      received.bytes += chunk.length;
    });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') received.posts++;
      res.writeHead(req.method === 'POST' && req.url === '/v1/traces' ? 200 : 404, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
