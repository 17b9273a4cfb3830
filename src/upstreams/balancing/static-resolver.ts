import * as grpc from '@grpc/grpc-js';

type Endpoint = grpc.experimental.Endpoint;

/** The scheme of `services[].endpoints` targets: `portico-static:///10.0.0.7:50051=3,10.0.0.8:50051=1`. */
export const staticScheme = 'portico-static';

/**
 * The resolver attribute that carries each endpoint's weight to the balancing policy, keyed by
 * address (subchannelAddressToString). grpc-js merges resolver attributes into the options the
 * policy receives; the `grpc.internal.no_subchannel` prefix keeps it out of the subchannels'
 * arguments, so a Map there never makes two otherwise equal subchannels differ.
 */
export const endpointWeightsAttribute = 'grpc.internal.no_subchannel.portico.endpoint_weights';

export interface WeightedAddress {
  address: string;
  weight: number;
}

/** The channel target of a static endpoint list: its addresses, each with its weight, in order. */
export function staticTarget(endpoints: readonly WeightedAddress[]): string {
  return `${staticScheme}:///${endpoints.map((e) => `${e.address}=${e.weight}`).join(',')}`;
}

/** An endpoint's weight as its resolver gave it; 1 when it gave none (dns:/// targets). */
export function endpointWeight(options: grpc.ChannelOptions, endpoint: Endpoint): number {
  const weights = options[endpointWeightsAttribute] as ReadonlyMap<string, number> | undefined;
  const address = endpoint.addresses[0];
  return (address && weights?.get(grpc.experimental.subchannelAddressToString(address))) ?? 1;
}

interface ParsedTarget {
  endpoints: Endpoint[];
  weights: Map<string, number>;
}

function parseTarget(path: string): ParsedTarget | string {
  const endpoints: Endpoint[] = [];
  const weights = new Map<string, number>();
  for (const item of path.split(',')) {
    const separator = item.lastIndexOf('=');
    const hostPort = grpc.experimental.splitHostPort(separator < 0 ? item : item.slice(0, separator));
    const weight = separator < 0 ? 1 : Number(item.slice(separator + 1));
    if (hostPort?.port === undefined || !Number.isInteger(weight) || weight < 1) return `invalid endpoint "${item}" in ${staticScheme} target`;
    const address = { host: hostPort.host, port: hostPort.port };
    endpoints.push({ addresses: [address] });
    weights.set(grpc.experimental.subchannelAddressToString(address), weight);
  }
  return { endpoints, weights };
}

/**
 * A fixed list of replicas, as the config lists them: reported once (as grpc-js's own ipv4:
 * resolver does), with their weights as an attribute. A change of the list is a new target,
 * hence a new channel (upstream-pool.ts). A host name in the list is one replica, resolved by
 * the connection; a name with many addresses belongs in `address: dns:///…`.
 */
class StaticResolver implements grpc.experimental.Resolver {
  readonly #result: ParsedTarget | string;
  #reported = false;

  constructor(
    target: grpc.experimental.GrpcUri,
    private readonly listener: grpc.experimental.ResolverListener,
  ) {
    this.#result = parseTarget(target.path);
  }

  updateResolution(): void {
    if (this.#reported) return;
    this.#reported = true;
    const result = this.#result;
    // Never synchronously (the Resolver contract).
    process.nextTick(() => {
      if (typeof result === 'string') {
        this.listener(grpc.experimental.statusOrFromError({ code: grpc.status.UNAVAILABLE, details: result }), {}, null, '');
      } else {
        this.listener(grpc.experimental.statusOrFromValue(result.endpoints), { [endpointWeightsAttribute]: result.weights }, null, '');
      }
    });
  }

  destroy(): void {
    this.#reported = false;
  }

  /** The first endpoint, as grpc-js's ipv4: resolver does: the :authority of every call. */
  static getDefaultAuthority(target: grpc.experimental.GrpcUri): string {
    const first = target.path.split(',')[0]!;
    const separator = first.lastIndexOf('=');
    return separator < 0 ? first : first.slice(0, separator);
  }
}

export function registerStaticResolver(): void {
  grpc.experimental.registerResolver(staticScheme, StaticResolver);
}
