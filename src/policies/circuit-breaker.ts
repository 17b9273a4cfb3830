import { BrokenCircuitError, circuitBreaker, CircuitState, handleWhen, SamplingBreaker, type CircuitBreakerPolicy } from 'cockatiel';
import type { CircuitBreakerConfig } from '../config/schema.js';
import { GatewayError } from '../errors/gateway-error.js';
import { refusal } from '../errors/refusals.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { StreamInvoker, UnaryInvoker, UpstreamCall, UpstreamPolicy } from '../upstreams/upstream-client.js';
import { endedStream, type UpstreamStream } from '../upstreams/upstream.js';
import type { BreakerState, ResilienceObserver } from './resilience-observer.js';

/** Upstream answers that say the service is unwell; any other answer counts as a success. */
const failureCodes: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.RESOURCE_EXHAUSTED,
]);

/** A call outcome the breaker does not count: the client left, or another policy refused the call. */
class Uncounted {
  constructor(readonly error: unknown) {}
}

/** An upstream answer that is not a failure: returned to cockatiel as a value, so it counts as a success. */
interface Settled<T> {
  readonly value?: T;
  readonly error?: GatewayError;
}

const stateNames: Readonly<Record<CircuitState, BreakerState>> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/**
 * The circuit breaker of one service. The state machine is cockatiel's (its SamplingBreaker: a
 * failure ratio over a sliding window with a minimum rate, and half-open sampling of N calls):
 * a maintained, TypeScript-native library whose breaker is independent of any retry or
 * timeout layer, so our retries and deadlines stay ours. Around it, this policy only refuses
 * fast: an open breaker (or a half-open one whose probes are all out) answers 503
 * CIRCUIT_OPEN at once, without queueing behind the probes as cockatiel would.
 *
 * Without `circuitBreaker` in the config the policy passes calls through. The object lives in
 * the service's upstream state, so its state survives reloads; new settings start a new
 * breaker (cockatiel's breaker cannot change its window or ratio in place).
 */
export class CircuitBreaker implements UpstreamPolicy {
  readonly name = 'circuit-breaker';
  #config: CircuitBreakerConfig | undefined;
  #breaker: CircuitBreakerPolicy | undefined;
  #openedAt = 0;
  /** Probes let through since the breaker last half-opened. */
  #probes = 0;

  constructor(
    readonly service: string,
    private readonly observer: ResilienceObserver,
  ) {}

  get state(): BreakerState | undefined {
    return this.#breaker && stateNames[this.#breaker.state];
  }

  configure(config: CircuitBreakerConfig | undefined): void {
    if (JSON.stringify(config) === JSON.stringify(this.#config)) return;
    this.#config = config;
    this.#breaker = config && this.#build(config);
  }

  unary(next: UnaryInvoker): UnaryInvoker {
    const guarded = async (call: UpstreamCall, breaker: CircuitBreakerPolicy): ReturnType<UnaryInvoker> => {
      this.#admit(call);
      let settled: Settled<Awaited<ReturnType<UnaryInvoker>>>;
      try {
        settled = await breaker.execute(() => {
          this.#countProbe();
          return next(call).then(
            (value) => ({ value }),
            (err: unknown) => this.#classify(call, err),
          );
        });
      } catch (err) {
        throw this.#unwrap(call, err);
      }
      if (settled.error) throw settled.error;
      return settled.value!;
    };
    return (call) => {
      const breaker = this.#breaker;
      return breaker ? guarded(call, breaker) : next(call);
    };
  }

  stream(next: StreamInvoker): StreamInvoker {
    return (call, listener) => {
      const breaker = this.#breaker;
      if (!breaker) return next(call, listener);
      try {
        this.#admit(call);
      } catch (err) {
        queueMicrotask(() => listener.end(err as GatewayError));
        return endedStream;
      }
      let stream: UpstreamStream = endedStream;
      // cockatiel calls the function synchronously when it lets the call through.
      breaker
        .execute(() => {
          this.#countProbe();
          return new Promise<Settled<undefined>>((resolve, reject) => {
            stream = next(call, {
              message: (message) => listener.message(message),
              end: (err) => {
                if (!err) resolve({});
                else this.#classify<undefined>(call, err).then(resolve, reject);
              },
            });
          });
        })
        .then(
          (settled) => listener.end(settled.error),
          (err: unknown) => listener.end(this.#unwrap(call, err) as GatewayError),
        );
      return { pause: () => stream.pause(), resume: () => stream.resume(), cancel: () => stream.cancel() };
    };
  }

  /** Throws the refusal when the breaker lets no call through now. */
  #admit(call: UpstreamCall): void {
    const breaker = this.#breaker!;
    const config = this.#config!;
    if (breaker.state === CircuitState.Open) {
      const waitMs = this.#openedAt + config.openMs - Date.now();
      // Past openMs, cockatiel half-opens with this very call.
      if (waitMs > 0) throw this.#refuse(call, waitMs);
    } else if (breaker.state === CircuitState.HalfOpen && this.#probes >= config.halfOpenCalls) {
      throw this.#refuse(call, config.openMs);
    }
  }

  #countProbe(): void {
    if (this.#breaker!.state === CircuitState.HalfOpen) this.#probes++;
  }

  #refuse(call: UpstreamCall, waitMs: number): GatewayError {
    call.ctx.outcome.refusal = 'CIRCUIT_OPEN';
    this.observer.refused(this.service, 'CIRCUIT_OPEN');
    return refusal('CIRCUIT_OPEN', `the circuit breaker of the ${this.service} service is open; retry later`, waitMs / 1000);
  }

  /** A failure rejects (cockatiel counts it); another answer resolves (a success); anything else is not counted. */
  #classify<T>(call: UpstreamCall, err: unknown): Promise<Settled<T>> {
    if (call.ctx.signal.aborted || !(err instanceof GatewayError) || !err.upstream) return Promise.reject(new Uncounted(err));
    if (failureCodes.has(err.code)) return Promise.reject(err);
    return Promise.resolve({ error: err });
  }

  #unwrap(call: UpstreamCall, err: unknown): unknown {
    if (err instanceof Uncounted) return err.error;
    // A call that raced a concurrent transition to open.
    if (err instanceof BrokenCircuitError) return this.#refuse(call, this.#config!.openMs);
    return err;
  }

  #build(config: CircuitBreakerConfig): CircuitBreakerPolicy {
    const breaker = circuitBreaker(
      handleWhen((err) => !(err instanceof Uncounted)),
      {
        halfOpenAfter: config.openMs,
        // SamplingBreaker opens above its threshold; failureRatio is "at that ratio or more".
        breaker: new SamplingBreaker({ threshold: config.failureRatio * (1 - 1e-9), duration: config.windowMs, minimumRps: config.minimumCalls / (config.windowMs / 1000) }),
        // Every probe must succeed to close; one failing opens again.
        halfOpenSampling: { calls: config.halfOpenCalls, threshold: 0 },
      },
    );
    breaker.onStateChange((state) => {
      if (state === CircuitState.Open) this.#openedAt = Date.now();
      if (state === CircuitState.HalfOpen) this.#probes = 0;
      this.observer.breakerTransition(this.service, stateNames[state]);
    });
    return breaker;
  }
}
