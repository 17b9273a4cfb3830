import type { FastifyBaseLogger } from 'fastify';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JSONWebKeySet, type JWTHeaderParameters, type FlattenedJWSInput } from 'jose';

/** A JWKS is a few keys; an answer larger than this is no key set we want in memory. */
export const maxJwksBytes = 256 * 1024;
/** How long one fetch of a JWKS may take. */
export const jwksTimeoutMs = 5_000;
/** At most one fetch per key set in this time on an unknown kid (or while none was ever fetched). */
export const unknownKidCooldownMs = 30_000;

/** The key set could not be fetched yet: no key to verify with. */
export class JwksUnavailableError extends Error {
  override name = 'JwksUnavailableError';
}

type KeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => ReturnType<ReturnType<typeof createLocalJWKSet>>;

/**
 * The signing keys of one JWKS endpoint. jose's remote set fetches (timeout, no redirects,
 * JWK Set validation, one fetch at a time) and this wrapper decides when, because jose's own
 * schedule does not fit a gateway: its cache, once older than cacheMaxAge, is refetched on the
 * next token and a failed fetch then refuses every token, and a failed fetch starts no
 * cooldown, so an endpoint that is down is asked again on every request. Here the keys are
 * refetched every `refreshSec` on a timer, a failed fetch keeps the keys already held, and a
 * token whose kid is unknown (or any token while no key set was ever fetched) asks for a fetch
 * at most once per unknownKidCooldownMs, counting every attempt.
 *
 * `generation` counts the changes of the key set: a token verified under an older generation
 * is verified again (verified-token-cache.ts), so a key taken out of the JWKS stops working
 * within one refresh even for tokens the cache already holds.
 */
export class JwksKeySet {
  readonly url: string;
  readonly refreshSec: number;
  #generation = 0;
  #remote: ReturnType<typeof createRemoteJWKSet>;
  #local: ReturnType<typeof createLocalJWKSet> | undefined;
  #text: string | undefined;
  #lastAttempt = -Infinity;
  #pending: Promise<void> | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(url: string, refreshSec: number, private readonly log: FastifyBaseLogger) {
    this.url = url;
    this.refreshSec = refreshSec;
    this.#remote = createRemoteJWKSet(new URL(url), {
      timeoutDuration: jwksTimeoutMs,
      // The timer below refreshes; jose must never refetch on its own (see the class comment).
      cacheMaxAge: Infinity,
      cooldownDuration: unknownKidCooldownMs,
      [customFetch]: cappedFetch,
    });
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), refreshSec * 1000);
    this.#timer.unref();
  }

  /** Bumped whenever a fetch brings a key set different from the one held. */
  get generation(): number {
    return this.#generation;
  }

  /** Fetches the key set now (joining a fetch under way); a failure is logged and the keys held stay. */
  refresh(): Promise<void> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** For jose's jwtVerify: the key of a token's kid and alg. The token's jku, x5u and jwk headers play no part. */
  readonly key: KeyResolver = async (header, token) => {
    // Before the first key set arrives a token waits for the fetch under way; after, never.
    if (!this.#local && this.#pending) await this.#pending;
    if (!this.#local && !(await this.#refreshUnlessCooling())) throw new JwksUnavailableError(`no key set fetched from ${this.url} yet`);
    try {
      return await this.#local!(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || !(await this.#refreshUnlessCooling())) throw err;
      return this.#local!(header, token);
    }
  };

  close(): void {
    clearInterval(this.#timer);
  }

  /** Refreshes unless an attempt was made within the cooldown; whether keys are held after. */
  async #refreshUnlessCooling(): Promise<boolean> {
    if (Date.now() - this.#lastAttempt >= unknownKidCooldownMs) await this.refresh();
    return this.#local !== undefined;
  }

  async #fetch(): Promise<void> {
    this.#lastAttempt = Date.now();
    try {
      await this.#remote.reload();
    } catch (err) {
      const held = this.#local ? 'keeping the keys fetched before' : 'no key set is held: tokens of this issuer are refused';
      this.log.warn({ jwksUrl: this.url, err: { message: (err as Error).message } }, `cannot fetch the JWKS at ${this.url}; ${held}`);
      return;
    }
    const jwks = this.#remote.jwks() as JSONWebKeySet;
    const text = JSON.stringify(jwks);
    if (text === this.#text) return;
    this.#text = text;
    this.#local = createLocalJWKSet(jwks);
    this.#generation++;
    this.log.info({ jwksUrl: this.url, kids: jwks.keys.map((k) => k.kid) }, `fetched the JWKS at ${this.url}: ${jwks.keys.length} keys`);
  }
}

/**
 * Every JWKS in use, by URL and refresh period: long-lived state that a config reload keeps
 * (a generation naming the same URL finds the key set already fetched). `retain` closes the
 * ones the new config no longer names.
 */
export class JwksKeySets {
  readonly #sets = new Map<string, JwksKeySet>();

  constructor(private readonly log: FastifyBaseLogger) {}

  get(url: string, refreshSec: number): JwksKeySet {
    const id = `${refreshSec} ${url}`;
    let set = this.#sets.get(id);
    if (!set) {
      set = new JwksKeySet(url, refreshSec, this.log);
      this.#sets.set(id, set);
    }
    return set;
  }

  /** Closes every key set but `kept` (those of the config in force). */
  retain(kept: Iterable<JwksKeySet>): void {
    const keep = new Set(kept);
    for (const [id, set] of this.#sets) {
      if (keep.has(set)) continue;
      set.close();
      this.#sets.delete(id);
    }
  }

  close(): void {
    this.retain([]);
  }
}

/** fetch, refusing an answer larger than maxJwksBytes (by its content-length, or as it streams in). */
async function cappedFetch(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200 || !response.body) return response;
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxJwksBytes) {
    await response.body.cancel();
    throw new Error(`the JWKS answer is larger than ${maxJwksBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of response.body) {
    bytes += chunk.byteLength;
    if (bytes > maxJwksBytes) throw new Error(`the JWKS answer is larger than ${maxJwksBytes} bytes`);
    chunks.push(chunk);
  }
  return new Response(Buffer.concat(chunks), { status: response.status, headers: response.headers });
}
