import type { ConcurrencyConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { refusal } from '../errors/refusals.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { UnaryInvoker, UpstreamPolicy } from '../upstreams/upstream-client.js';
import { GradientLimit } from './gradient-limit.js';
import type { ResilienceObserver } from './resilience-observer.js';

/**
 * Caps the unary calls in flight to one service: past the limit a call is refused at once
 * (503 CONCURRENCY_LIMIT), never queued, so a slow service holds at most `max` requests and
 * never the gateway's capacity for the others. With `adaptive: true` the limit follows the
 * service's latency (gradient-limit.ts). Server streams have their own cap (open-streams.ts).
 *
 * Without `concurrency` in the config the policy passes calls through. The object lives in
 * the service's upstream state: the calls in flight stay counted across reloads.
 */
export class ConcurrencyLimit implements UpstreamPolicy {
  readonly name = 'concurrency';
  #config: ConcurrencyConfig | undefined;
  #gradient: GradientLimit | undefined;
  #inFlight = 0;

  constructor(
    readonly service: string,
    private readonly observer: ResilienceObserver,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Infinity without a cap. */
  get limit(): number {
    if (!this.#config) return Infinity;
    return this.#gradient ? this.#gradient.current : this.#config.max;
  }

  configure(config: ConcurrencyConfig | undefined): void {
    if (JSON.stringify(config) === JSON.stringify(this.#config)) return;
    this.#config = config;
    this.#gradient = config?.adaptive ? new GradientLimit(config.min, config.max) : undefined;
  }

  unary(next: UnaryInvoker): UnaryInvoker {
    return (call) => {
      if (!this.#config) return next(call);
      if (this.#inFlight >= this.limit) {
        call.ctx.outcome.refusal = 'CONCURRENCY_LIMIT';
        this.observer.refused(this.service, 'CONCURRENCY_LIMIT');
        return Promise.reject(refusal('CONCURRENCY_LIMIT', `too many calls in flight to the ${this.service} service; retry later`, 1));
      }
      const gradient = this.#gradient;
      const inFlight = ++this.#inFlight;
      const started = performance.now();
      return next(call).then(
        (response) => {
          this.#inFlight--;
          gradient?.sample(performance.now() - started, inFlight);
          return response;
        },
        (err: unknown) => {
          this.#inFlight--;
          // Only an upstream's answer tells its latency; a cancelled call says nothing.
          if (err instanceof GatewayError && err.upstream && err.code !== GrpcStatus.CANCELLED) gradient?.sample(performance.now() - started, inFlight);
          throw err;
        },
      );
    };
  }
}
