import assert from 'node:assert/strict';
import http from 'node:http';

/** One answer, headers lower-cased. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET over a fresh connection from `from` (any 127.x.y.z address is loopback on Linux, so
 * tests can be several clients by address).
 */
export function get(url: string, options: { from?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: options.headers ?? {}, agent: false, localAddress: options.from ?? '127.0.0.1' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Fires `count` requests at once; the statuses in order of sending. */
export async function burst(count: number, send: () => Promise<Answer>): Promise<number[]> {
  return (await Promise.all(Array.from({ length: count }, send))).map((answer) => answer.status);
}

export const countOf = (statuses: readonly number[], status: number): number => statuses.filter((s) => s === status).length;

/**
 * Offers `offeredRps` requests a second for `seconds` (twice the limit's rate or more, so the
 * limit is what decides) and returns how many were allowed and the seconds that took.
 */
export async function sustained(send: () => Promise<Answer>, offeredRps: number, seconds: number): Promise<{ allowed: number; elapsed: number }> {
  const started = performance.now();
  const pending: Promise<Answer>[] = [];
  for (let i = 0; i < offeredRps * seconds; i++) {
    const due = started + (i * 1000) / offeredRps;
    const delay = due - performance.now();
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    pending.push(send());
  }
  const answers = await Promise.all(pending);
  for (const answer of answers) assert.ok(answer.status === 200 || answer.status === 429, `status ${answer.status}: ${answer.body}`);
  return { allowed: answers.filter((a) => a.status === 200).length, elapsed: (performance.now() - started) / 1000 };
}

/** Asserts `actual` within 10 % of `expected`. */
export function assertWithinTenPercent(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.1, `${what}: ${actual}, expected ${expected.toFixed(1)} ± 10 %`);
}

/** The RateLimit header's fields: { name, r, t }. */
export function quotaOf(answer: Answer): { name: string; r: number; t: number } {
  const value = answer.headers['ratelimit'];
  assert.equal(typeof value, 'string', `a RateLimit header in ${JSON.stringify(answer.headers)}`);
  const match = /^"([^"]+)";r=(\d+);t=(\d+)$/.exec(value as string);
  assert.ok(match, `RateLimit: ${String(value)}`);
  return { name: match[1]!, r: Number(match[2]), t: Number(match[3]) };
}
