import type { Identity } from '../upstreams/call-context.js';

/** What a JWKS-verified entry checks on every hit: the key set's generation it was verified under. */
export interface KeyGeneration {
  readonly generation: number;
}

interface Entry {
  readonly identity: Identity;
  /** Epoch ms of the token's exp: the entry answers until then and no longer. */
  readonly expiresAt: number;
  readonly bytes: number;
  /** The JWKS that verified the token and its generation then; a later generation sends the token back to verification. */
  readonly keys: KeyGeneration | undefined;
  readonly generation: number;
  /** Hit since the eviction sweep last passed it (CLOCK's reference bit). */
  used: boolean;
}

/** Map entry, entry object and identity map: V8's fixed cost per cached token, roughly. */
const entryOverheadBytes = 200;

/**
 * Tokens that passed verification, with the identity they carry: a frontend sends the same
 * token many times, and the signature check is the costliest step of authentication. Only
 * verified tokens enter (failures would let junk tokens fill the heap), each until its exp,
 * and the total of token text and claims stays within a byte budget. A token verified with a
 * JWKS answers only while that key set is unchanged, so a key taken out of it stops working
 * within one refresh. Keyed by the token text itself, so a hit is one Map lookup. Eviction is
 * CLOCK (second chance), an approximation of least-recently-used: a hit only sets a flag, and
 * the sweep from the oldest entry (a Map iterates in insertion order) gives each flagged entry
 * one more round at the back. Moving every hit to the back instead cost a Map delete and insert
 * per request. A few lines, so no dependency (lru-cache is no direct one).
 */
export class VerifiedTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Tokens held, for tests and diagnostics. */
  get size(): number {
    return this.#entries.size;
  }

  /** Estimated bytes held, always within the budget. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The identity of a verified, unexpired token, or undefined. */
  get(token: string, now: number): Identity | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    if (now > entry.expiresAt || (entry.keys !== undefined && entry.keys.generation !== entry.generation)) {
      this.#entries.delete(token);
      this.#bytes -= entry.bytes;
      return undefined;
    }
    entry.used = true;
    return entry.identity;
  }

  /**
   * Remembers a token that has just been verified, until `expiresAt` (epoch ms) and, when a
   * JWKS verified it, while `keys` stays at `generation` (read before the verification began).
   */
  set(token: string, identity: Identity, expiresAt: number, keys?: KeyGeneration, generation = 0): void {
    const bytes = entryBytes(token, identity);
    if (bytes > this.#maxBytes) return;
    const previous = this.#entries.get(token);
    if (previous) {
      this.#entries.delete(token);
      this.#bytes -= previous.bytes;
    }
    this.#entries.set(token, { identity, expiresAt, bytes, keys, generation, used: false });
    this.#bytes += bytes;
    // Entries put back during the sweep are visited again, flag cleared, so it ends.
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      if (entry.used) {
        entry.used = false;
        this.#entries.set(oldest, entry);
      } else {
        this.#bytes -= entry.bytes;
      }
    }
  }
}

function entryBytes(token: string, identity: Identity): number {
  let bytes = entryOverheadBytes + token.length;
  // Claim values may hold characters beyond Latin-1, which V8 stores in two bytes each.
  for (const [key, value] of identity) bytes += key.length + 2 * value.length;
  return bytes;
}
