import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { RateLimitObserver } from './observer.js';

/*
 * Buckets in Redis, so that every replica of the gateway enforces one limit. Not
 * @fastify/rate-limit: it counts requests per fixed window, which lets twice the limit through
 * across a window's edge and has no burst, and it limits per Fastify route, while our limits
 * are per service and RPC and layered. Here each check is ONE Lua script run (atomic in Redis,
 * one round trip) doing GCRA (token-bucket.ts) on every bucket of the check: all take a token
 * or none does, so a request refused by its RPC's limit costs nothing of its service's. The
 * clock is Redis's (TIME), so replicas with skewed clocks still share one bucket exactly, and
 * each key expires when its bucket is full again: idle clients cost Redis nothing.
 *
 * KEYS: the buckets. ARGV: per bucket, its interval in ms and its burst.
 * Returns { refusedIndex (1-based, 0 = allowed), waitMs, then per bucket remaining, msUntilFull }.
 */
const gcraScript = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local tats = {}
local refused, wait = 0, 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = interval * tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  tats[i] = tat
  local over = tat + interval - now - tolerance
  if over > wait then refused, wait = i, over end
end
local result = { refused, math.ceil(wait) }
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = interval * tonumber(ARGV[2 * i])
  local tat = tats[i]
  if refused == 0 then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now))
  end
  result[#result + 1] = math.max(0, math.floor((tolerance - (tat - now)) / interval + 1e-9))
  result[#result + 1] = math.ceil(tat - now)
end
return result
`;

/** Longest a request waits for Redis; past it the store counts as down for that request. */
export const redisCommandTimeoutMs = 100;

type GcraCommand = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number[]>;

export type StoreFailMode = 'fail_open' | 'fail_closed';

/**
 * One Redis connection for the buckets, kept across reloads while rateLimit.redis.url stays.
 * A request never waits on Redis long: no offline queue (a command while disconnected fails at
 * once), no retries of a command, a 100 ms command timeout; ioredis reconnects in the
 * background. An outage is logged once when it starts and once when it ends, and shows in
 * portico_rate_limit_store_up and portico_rate_limit_store_errors_total.
 */
export class RedisStore {
  /** The fail mode of the generation in force, for the outage log line. */
  onError: StoreFailMode;
  readonly #client: Redis;
  readonly #gcra: GcraCommand;
  #state: 'connecting' | 'up' | 'down' = 'connecting';
  #closing = false;

  constructor(
    readonly url: string,
    onError: StoreFailMode,
    private readonly observer: RateLimitObserver,
    private readonly log: FastifyBaseLogger,
  ) {
    this.onError = onError;
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: redisCommandTimeoutMs,
      connectTimeout: 1000,
      // The INFO ready check would run under the 100 ms timeout too, and time out while a busy
      // start-up blocks the event loop; a Redis still loading answers LOADING, a store error.
      enableReadyCheck: false,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    client.defineCommand('porticoGcra', { lua: gcraScript });
    this.#gcra = (client as unknown as Record<'porticoGcra', GcraCommand>).porticoGcra.bind(client);
    client.on('ready', () => this.#up());
    client.on('error', (err: Error) => this.#down(err.message));
    client.on('close', () => this.#down('connection closed'));
    this.#client = client;
  }

  /** Runs one check (see gcraScript); undefined when Redis did not answer in time. */
  async take(keys: readonly string[], argv: readonly number[]): Promise<number[] | undefined> {
    try {
      const result = await this.#gcra(keys.length, ...keys, ...argv);
      this.#up();
      return result;
    } catch (err) {
      this.observer.rateLimitStoreError();
      this.#down((err as Error).message);
      return undefined;
    }
  }

  close(): void {
    this.#closing = true;
    this.#client.quit().catch(() => this.#client.disconnect());
  }

  #up(): void {
    if (this.#state === 'up') return;
    if (this.#state === 'down') this.log.info({ store: 'redis' }, 'rate-limit store (Redis) is reachable again: rate limits apply again');
    this.#state = 'up';
    this.observer.rateLimitStoreUp(true);
  }

  #down(reason: string): void {
    if (this.#state === 'down' || this.#closing) return;
    this.#state = 'down';
    this.observer.rateLimitStoreUp(false);
    const meanwhile = this.onError === 'fail_open' ? 'requests are served without rate limits' : 'rate-limited routes answer 503 RATE_LIMIT_UNAVAILABLE';
    this.log.warn({ store: 'redis', reason, onError: this.onError }, `rate-limit store (Redis) unavailable: ${meanwhile} until it is back`);
  }
}
