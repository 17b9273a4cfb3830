import type { LoadBalancingConfig } from '@grpc/grpc-js';
import type { BalancingPolicy, ServiceConfig } from '../../config/schema.js';
import { withHealth } from '../health/health-balancer.js';
import type { ServiceHealth } from '../health/service-health.js';
import { leastRequestPolicy, registerLeastRequest } from './least-request.js';
import { registerRingHash, ringHashPolicy } from './ring-hash.js';
import { registerStaticResolver, staticTarget } from './static-resolver.js';
import { registerWeightedRoundRobin, weightedRoundRobinPolicy } from './weighted-round-robin.js';

/*
 * The one place where a service's replica settings become a grpc-js channel: its target
 * (address, or the static endpoint list through Portico's resolver) and the load-balancing
 * policy of its service config. Balancing is per call, inside the channel, by policies
 * registered with grpc-js; round_robin is grpc-js's own.
 */

registerStaticResolver();
registerWeightedRoundRobin();
registerLeastRequest();
registerRingHash();

const policyNames: Readonly<Record<BalancingPolicy, string>> = {
  round_robin: 'round_robin',
  weighted_round_robin: weightedRoundRobinPolicy,
  least_request: leastRequestPolicy,
  ring_hash: ringHashPolicy,
};

/** The balancing policy of a service, as one loadBalancingConfig entry (a wrapping policy may take it as its child). */
export function loadBalancingConfig(balancing: BalancingPolicy): LoadBalancingConfig {
  return { [policyNames[balancing]]: {} };
}

export interface BalancedChannel {
  /** The grpc-js target: `address` as configured, or a `portico-static:` list of the endpoints. */
  readonly target: string;
  /** The channel's `grpc.service_config`. */
  readonly serviceConfig: string;
}

/** The balancing policy runs under the replica health policy (health/health-balancer.ts), which keeps excluded replicas from it. */
export function balancedChannel(service: Pick<ServiceConfig, 'address' | 'endpoints' | 'balancing'>, health: ServiceHealth): BalancedChannel {
  return {
    target: service.endpoints ? staticTarget(service.endpoints) : service.address!,
    serviceConfig: JSON.stringify({ loadBalancingConfig: [withHealth(loadBalancingConfig(service.balancing), health)] }),
  };
}
