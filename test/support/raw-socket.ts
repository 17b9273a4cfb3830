import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SocketResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

/** Parses every HTTP/1.1 response in `text` (Content-Length framed, as the gateway's errors are). */
export function parseResponses(text: string): SocketResponse[] {
  const responses: SocketResponse[] = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.')) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const length = Number(headers['content-length'] ?? 0);
    const bodyStart = headEnd + 4;
    const body = Buffer.from(rest.slice(bodyStart), 'latin1').subarray(0, length).toString('utf8');
    responses.push({ status: Number(statusLine!.split(' ')[1]), headers, body });
    rest = rest.slice(bodyStart + length);
  }
  return responses;
}

/** A client socket that records everything the server sends, and when the server closed it. */
export class RawClient {
  readonly socket: net.Socket;
  #received = '';
  readonly closed: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => (this.#received += chunk));
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  get received(): string {
    return this.#received;
  }

  get responses(): SocketResponse[] {
    return parseResponses(this.#received);
  }

  write(data: string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Writes `data` a byte at a time, `everyMs` apart, until it is sent or the server closes the socket. */
  async trickle(data: string, everyMs: number): Promise<void> {
    for (const byte of data) {
      if (this.socket.destroyed || this.socket.readableEnded) return;
      this.write(byte);
      await sleep(everyMs);
    }
  }

  /** Resolves once the server has closed the connection; fails after `timeoutMs`. */
  async closedWithin(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends `data` on a new connection and resolves with what the server sent once it closes the connection. */
export async function exchange(port: number, data: string): Promise<SocketResponse[]> {
  const client = new RawClient(port);
  try {
    client.write(data);
    await client.closedWithin(5000);
    return client.responses;
  } finally {
    client.destroy();
  }
}
