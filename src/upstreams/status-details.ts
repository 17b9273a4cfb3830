import { createRegistry, fromBinary, toJson, type DescMessage, type Registry } from '@bufbuild/protobuf';
import type { Metadata } from '@grpc/grpc-js';
import { buildFileRegistry } from '../descriptors/file-registry.js';
import { loadProtoSources } from '../descriptors/proto-files.js';
import type { ErrorDetail } from '../errors/gateway-error.js';

/*
 * Upstreams put a google.rpc.Status into the `grpc-status-details-bin` trailer; its details
 * (BadRequest, RetryInfo, ErrorInfo, or the service's own messages) are Any values that the
 * envelope shows as proto3 JSON with "@type". google/rpc comes from google-proto-files.
 */
const rpcRegistry = buildFileRegistry(loadProtoSources([], ['google/rpc/status.proto', 'google/rpc/error_details.proto']));
const statusSchema = rpcRegistry.getMessage('google.rpc.Status') as DescMessage;
const anySchema = rpcRegistry.getMessage('google.protobuf.Any') as DescMessage;

/** A registry that resolves google.rpc details and the upstream service's own types. */
export function detailsRegistry(serviceRegistry: Registry): Registry {
  return createRegistry(rpcRegistry, serviceRegistry);
}

/** Decodes the details of a failed call, or [] when there are none or they cannot be read. */
export function decodeStatusDetails(metadata: Metadata | undefined, registry: Registry): ErrorDetail[] {
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (!(raw instanceof Uint8Array)) return [];
  try {
    const status = fromBinary(statusSchema, raw) as unknown as { details: unknown[] };
    const details: ErrorDetail[] = [];
    for (const any of status.details) {
      try {
        details.push(toJson(anySchema, any as never, { registry }) as ErrorDetail);
      } catch {
        // A detail of a type the gateway does not know cannot be rendered as JSON; skip it.
      }
    }
    return details;
  } catch {
    return [];
  }
}
