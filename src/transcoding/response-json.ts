import { create, toJsonString, type DescMessage, type Message } from '@bufbuild/protobuf';
import type { TranscodedRoute } from './route-set.js';

/** proto3 JSON of an upstream response, or of its response_body field (unary and streams alike). */
export function renderResponse(route: TranscodedRoute, response: Message): string {
  route.rewriteFloats?.(response as unknown as Record<string, unknown>);
  const field = route.responseField;
  if (!field) return toJsonString(route.output, response as never, route.jsonOptions);
  const value = (response as unknown as Record<string, unknown>)[field.localName];
  if (field.fieldKind === 'message') {
    const sub = field.message as DescMessage;
    return toJsonString(sub, (value ?? create(sub)) as never, route.jsonOptions);
  }
  // Scalars, enums, lists and maps: render the whole message and take the member, so the
  // field gets exactly the proto3 JSON form (int64 strings, enum names, [] and {}).
  const whole = JSON.parse(toJsonString(route.output, response as never, route.jsonOptions)) as Record<string, unknown>;
  return JSON.stringify(whole[field.jsonName] ?? null);
}
