import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { HealthCheckRequestSchema, HealthCheckResponse_ServingStatus, HealthCheckResponseSchema, type HealthCheckResponse } from '../../gen/grpc/health/v1/health_pb.js';
import type { HealthCheckSettings } from './service-health.js';

const checkPath = '/grpc.health.v1.Health/Check';

/**
 * The active checks of one replica: grpc.health.v1.Health/Check every intervalMs, sent through
 * the replica's own subchannel (its connection, not a channel of its own), so a check sees
 * exactly the connection calls use. A replica that is not connected fails the check at once
 * ("Subchannel not ready"), which is how an unreachable replica becomes unhealthy. Settings
 * are read at every check, so a reload that changes them takes effect without a restart.
 */
export class HealthChecker {
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #stopped = false;

  /** `subchannel`: one in use for the replica now, if any (grpc-js may replace it). */
  constructor(
    private readonly subchannel: () => grpc.experimental.SubchannelInterface | undefined,
    private readonly settings: () => HealthCheckSettings | undefined,
    private readonly report: (serving: boolean) => void,
  ) {
    this.#schedule();
  }

  /** Checks now (the connection has just come up), unless a check is already under way. */
  checkNow(): void {
    if (this.#inFlight || this.#stopped || !this.settings()) return;
    clearTimeout(this.#timer);
    this.#check(this.settings()!);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    const settings = this.settings();
    // Checks turned off by a reload: look again later, in case they come back.
    this.#timer = setTimeout(() => (this.settings() ? this.#check(this.settings()!) : this.#schedule()), settings?.intervalMs ?? 1000);
    this.#timer.unref();
  }

  #check(settings: HealthCheckSettings): void {
    const subchannel = this.subchannel();
    // No subchannel: the channel is idle, and nothing would be sent to the replica anyway.
    if (!subchannel) return this.#schedule();
    this.#inFlight = true;
    // Never closed: the channel is the subchannel's own, which grpc-js owns.
    const client = new grpc.Client(subchannel.getAddress(), grpc.credentials.createInsecure(), { channelOverride: subchannel.getChannel() });
    client.makeUnaryRequest(
      checkPath,
      (request: { service: string }) => Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, request))),
      (bytes: Buffer): HealthCheckResponse => fromBinary(HealthCheckResponseSchema, bytes),
      { service: settings.serviceName },
      { deadline: Date.now() + settings.timeoutMs },
      (err, response) => {
        this.#inFlight = false;
        if (this.#stopped) return;
        this.report(!err && response?.status === HealthCheckResponse_ServingStatus.SERVING);
        this.#schedule();
      },
    );
  }
}
