import type { RetryConfig, ServiceConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { StreamInvoker, UnaryInvoker, UpstreamCall, UpstreamPolicy } from '../upstreams/upstream-client.js';
import type { StreamListener, UpstreamStream } from '../upstreams/upstream.js';
import type { ResilienceObserver } from './resilience-observer.js';
import { RetryBudget } from './retry-budget.js';

/** One RPC's retry settings, ready for the call path. */
interface RetrySettings {
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly codes: ReadonlySet<GrpcStatus>;
}

/**
 * Retries an idempotent call that the upstream answered with one of `retry.codes`: with
 * exponential backoff and full jitter, never starting past the call's deadline or after the
 * client left, never for a stream that has delivered a message, and within the service's
 * budget. The next attempt goes wherever the channel's balancer picks next (round robin: the
 * next replica). Refusals of the gateway's own policies are never retried: they carry no
 * upstream status. The only retry layer: grpc-js's own retries are off (upstream.ts).
 */
export class RetryPolicy implements UpstreamPolicy {
  readonly name = 'retry';
  readonly #budget = new RetryBudget(0);
  #config!: ServiceConfig;
  /** Settings by RPC name, computed on first use after each configure(). */
  #settings = new Map<string, RetrySettings>();

  constructor(
    readonly service: string,
    private readonly observer: ResilienceObserver,
  ) {}

  /** Takes the settings of a (re)loaded config; the budget's history stays. */
  configure(config: ServiceConfig): void {
    this.#config = config;
    this.#settings = new Map();
    this.#budget.percent = config.retry.budgetPercent;
  }

  unary(next: UnaryInvoker): UnaryInvoker {
    const retried = async (call: UpstreamCall, settings: RetrySettings, first: unknown): Promise<Awaited<ReturnType<UnaryInvoker>>> => {
      let failure = first;
      for (let attempt = 1; ; attempt++) {
        const delay = this.retryDelay(call, settings, attempt, failure);
        if (delay === undefined || !(await backoff(delay, call.ctx.signal))) throw failure;
        call.ctx.outcome.attempts = attempt + 1;
        try {
          return await next(call);
        } catch (err) {
          failure = err;
        }
      }
    };
    // The first attempt costs no extra promise: the retry loop starts only on a failure.
    return (call) => {
      this.#budget.called();
      const settings = this.#settingsOf(call);
      if (!call.idempotent || settings.maxAttempts <= 1) return next(call);
      return next(call).catch((err: unknown) => retried(call, settings, err));
    };
  }

  stream(next: StreamInvoker): StreamInvoker {
    return (call, listener) => {
      this.#budget.called();
      const settings = this.#settingsOf(call);
      if (!call.idempotent || settings.maxAttempts <= 1) return next(call, listener);
      return new RetryingStream(this, next, call, listener, settings);
    };
  }

  /** The wait before the next attempt, or undefined when `err` ends the call. */
  retryDelay(call: UpstreamCall, settings: RetrySettings, attempt: number, err: unknown): number | undefined {
    if (attempt >= settings.maxAttempts || call.ctx.signal.aborted) return undefined;
    if (!(err instanceof GatewayError) || !err.upstream || !settings.codes.has(err.code)) return undefined;
    const delay = Math.random() * Math.min(settings.maxBackoffMs, settings.initialBackoffMs * 2 ** (attempt - 1));
    if (Date.now() + delay >= call.ctx.deadline) return undefined;
    if (!this.#budget.tryRetry()) {
      this.observer.retryBudgetExhausted(this.service);
      return undefined;
    }
    this.observer.retried(this.service);
    return delay;
  }

  #settingsOf(call: UpstreamCall): RetrySettings {
    let settings = this.#settings.get(call.rpc.name);
    if (!settings) {
      const config: RetryConfig = { ...this.#config.retry, ...this.#config.methods[call.rpc.name]?.retry };
      settings = { ...config, codes: new Set(config.codes.map((name) => GrpcStatus[name])) };
      this.#settings.set(call.rpc.name, settings);
    }
    return settings;
  }
}

/** Waits `ms`; false when the client left first. */
function backoff(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (waited: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(waited);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A server stream that is started again after a retryable failure, as long as it has not
 * delivered a message (a client cannot be told to forget what it received). The caller's
 * handle follows the attempt in progress.
 */
class RetryingStream implements UpstreamStream, StreamListener {
  #attempt = 1;
  #current: UpstreamStream;
  #delivered = false;
  #paused = false;
  #cancelled = false;
  /** Set while waiting to start the next attempt. */
  #pending: { timer: NodeJS.Timeout; err: GatewayError | undefined } | undefined;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly next: StreamInvoker,
    private readonly call: UpstreamCall,
    private readonly listener: StreamListener,
    private readonly settings: RetrySettings,
  ) {
    this.#current = next(call, this);
  }

  message(message: Parameters<StreamListener['message']>[0]): void {
    this.#delivered = true;
    this.listener.message(message);
  }

  end(err: GatewayError | undefined): void {
    const delay = err && !this.#delivered && !this.#cancelled ? this.policy.retryDelay(this.call, this.settings, this.#attempt, err) : undefined;
    if (delay === undefined) {
      this.listener.end(err);
      return;
    }
    const timer = setTimeout(() => this.#retry(), delay);
    this.#pending = { timer, err };
    this.call.ctx.signal.addEventListener('abort', this, { once: true });
  }

  /** The client left during the backoff: the last failure ends the stream. */
  handleEvent(): void {
    this.#endPending(this.#pending?.err);
  }

  pause(): void {
    this.#paused = true;
    this.#current.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#current.resume();
  }

  cancel(): void {
    this.#cancelled = true;
    if (this.#pending) this.#endPending(new GatewayError(GrpcStatus.CANCELLED, 'the gateway cancelled the stream'));
    else this.#current.cancel();
  }

  #retry(): void {
    this.call.ctx.signal.removeEventListener('abort', this);
    this.#pending = undefined;
    this.#attempt++;
    this.call.ctx.outcome.attempts = this.#attempt;
    this.#current = this.next(this.call, this);
    if (this.#paused) this.#current.pause();
  }

  #endPending(err: GatewayError | undefined): void {
    if (!this.#pending) return;
    clearTimeout(this.#pending.timer);
    this.call.ctx.signal.removeEventListener('abort', this);
    this.#pending = undefined;
    this.listener.end(err);
  }
}
