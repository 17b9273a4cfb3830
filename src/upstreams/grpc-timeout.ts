/*
 * The gRPC wire syntax of a timeout (grpc-timeout header): up to 8 digits and a unit.
 * A client may send it on an HTTP request to shorten the upstream deadline.
 */
const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Milliseconds, or undefined when the value is not a valid grpc-timeout. */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * unitMs[match[2]!]!;
}
