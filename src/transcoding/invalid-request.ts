import { badRequestDetail, GatewayError } from '../errors/gateway-error.js';
import type { FieldViolation } from './field-violations.js';

/** The 400 of a request that failed binding or validation: the first few problems in the message, every one in the details. */
export function invalidRequest(violations: readonly FieldViolation[]): GatewayError {
  const summary = violations
    .slice(0, 3)
    .map((v) => (v.field ? `${v.field}: ${v.description}` : v.description))
    .join('; ');
  return GatewayError.http(400, `invalid request: ${summary}${violations.length > 3 ? '; …' : ''}`, [badRequestDetail(violations)]);
}
