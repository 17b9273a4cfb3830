import { create } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { status } from '@grpc/grpc-js';
import { BadRequestSchema, ResourceInfoSchema } from '../gen/google/rpc/error_details_pb.js';
import { grpcError, type GrpcStatusError } from './grpc-server.js';

/*
 * The two failures every demo backend reports, with the machine-readable google.rpc details
 * a real upstream would attach, so the gateway's error mapping sees realistic trailers.
 */

/** NOT_FOUND with a google.rpc.ResourceInfo naming what was missing. */
export function notFound(message: string, resourceType: string, resourceName: string): GrpcStatusError {
  const info = create(ResourceInfoSchema, { resourceType, resourceName });
  return grpcError(status.NOT_FOUND, message, [anyPack(ResourceInfoSchema, info)]);
}

/** INVALID_ARGUMENT with a google.rpc.BadRequest naming the offending request field. */
export function invalidArgument(field: string, description: string): GrpcStatusError {
  const badRequest = create(BadRequestSchema, { fieldViolations: [{ field, description }] });
  return grpcError(status.INVALID_ARGUMENT, `${field}: ${description}`, [anyPack(BadRequestSchema, badRequest)]);
}
