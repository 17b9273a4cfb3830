import type { AuthModeName } from '../config/schema.js';
import { componentRef, type JsonSchema } from './message-schemas.js';
import type { OpenApiParameter } from './path-rendering.js';

export interface MediaType {
  schema: JsonSchema;
}

export interface Operation {
  operationId: string;
  tags: string[];
  summary?: string;
  description?: string;
  parameters?: OpenApiParameter[];
  requestBody?: { description?: string; required: boolean; content: Record<string, MediaType> };
  responses: Record<string, { description: string; content?: Record<string, MediaType> }>;
  security?: Record<string, string[]>[];
}

export const errorEnvelopeName = 'ErrorEnvelope';

/** The body of every error answer (src/errors/gateway-error.ts). */
export const errorEnvelopeSchema: JsonSchema = {
  type: 'object',
  description: 'Every error answer, whether raised by the gateway or the upstream.',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'integer', description: 'The HTTP status.' },
        status: { type: 'string', description: 'The gRPC status name, e.g. NOT_FOUND.' },
        message: { type: 'string' },
        requestId: { type: 'string', description: 'The x-request-id of the request, for the logs.' },
        details: {
          type: 'array',
          description: 'google.rpc error details as proto3 JSON with "@type", e.g. google.rpc.BadRequest.',
          items: { type: 'object' },
        },
      },
      required: ['code', 'status', 'message', 'requestId', 'details'],
    },
  },
  required: ['error'],
};

export const bearerAuthScheme = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };

const errorResponse = { description: 'Error', content: { 'application/json': { schema: componentRef(errorEnvelopeName) } } };

/** The 200 answer and the error envelope; a stream is NDJSON, or SSE when the client accepts it. */
export function responses(schema: JsonSchema, streaming: boolean): Operation['responses'] {
  const ok: Operation['responses'][string] = streaming
    ? {
        description: 'A stream of messages: NDJSON lines, or Server-Sent Events when the request accepts text/event-stream.',
        content: { 'application/x-ndjson': { schema }, 'text/event-stream': { schema } },
      }
    : { description: 'OK', content: { 'application/json': { schema } } };
  return { '200': ok, default: errorResponse };
}

/**
 * An empty requirement makes the token optional: the operation may be called without one.
 * The scopes a route requires are listed in its bearer requirement (OpenAPI 3.1 allows role
 * names there for schemes other than OAuth 2), every one of them needed.
 */
export function security(auth: AuthModeName | undefined, scopes: readonly string[] = []): Pick<Operation, 'security'> {
  if (auth === 'required') return { security: [{ bearerAuth: [...scopes] }] };
  if (auth === 'optional') return { security: [{ bearerAuth: [...scopes] }, {}] };
  return {};
}

/** The first sentence of a comment as summary, the whole comment as description when it says more. */
export function summaryAndDescription(comment: string | undefined): Pick<Operation, 'summary' | 'description'> {
  if (comment === undefined) return {};
  const paragraph = comment.split(/\n\s*\n/)[0]!.replace(/\s+/g, ' ').trim();
  const summary = /^(.+?\.)(?:\s|$)/.exec(paragraph)?.[1] ?? paragraph;
  return summary === comment ? { summary } : { summary, description: comment };
}

/** Keeps operationIds unique across the document by numbering repeats. */
export class OperationIds {
  readonly #used = new Set<string>();

  claim(wanted: string): string {
    let id = wanted;
    for (let n = 2; this.#used.has(id); n++) id = `${wanted}_${n}`;
    this.#used.add(id);
    return id;
  }
}
