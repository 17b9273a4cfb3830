import { GatewayError } from '../errors/gateway-error.js';
import { GrpcStatus } from '../errors/status-codes.js';
import type { StreamInvoker, UpstreamPolicy } from '../upstreams/upstream-client.js';
import { endedStream } from '../upstreams/upstream.js';

/**
 * Caps the server streams open to one service. A stream holds an HTTP/2 stream of the
 * upstream connection for as long as its client stays; an upstream that allows N concurrent
 * streams per connection (`max_concurrent_streams`) would otherwise let N slow stream clients
 * queue every unary call of that service behind them until their deadlines. Past the cap a
 * new stream is a 503 at once and unary calls keep their room.
 *
 * The count lives in this object, which the service's upstream state keeps across reloads.
 */
export class OpenStreamsLimit implements UpstreamPolicy {
  readonly name = 'open-streams';
  #open = 0;

  constructor(
    readonly service: string,
    public max: number,
  ) {}

  stream(next: StreamInvoker): StreamInvoker {
    return (call, listener) => {
      if (this.#open >= this.max) {
        const err = new GatewayError(GrpcStatus.UNAVAILABLE, `too many open streams to the ${this.service} service; retry later`, [], {
          headers: { 'retry-after': '1' },
        });
        queueMicrotask(() => listener.end(err));
        return endedStream;
      }
      this.#open++;
      // A stream ends exactly once (StreamListener's contract), so the count cannot drift.
      return next(call, {
        message: (message) => listener.message(message),
        end: (err) => {
          this.#open--;
          listener.end(err);
        },
      });
    };
  }
}
