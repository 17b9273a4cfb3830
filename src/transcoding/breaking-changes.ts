import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { RouteEntry } from './route-table.js';
import type { CompiledRoute, RouteSet, TranscodedRoute } from './route-set.js';

/*
 * What a reload would break for clients of the routes in force, one sentence per break:
 *
 * - a route (method and path template as written) that is gone, now calls another RPC, or
 *   reads another body / sends another response_body, or changes between unary and stream;
 * - a field of a message a binding serves (its request and response messages, and every
 *   message and enum they reach) that is removed, renumbered, retyped (scalar kind, enum or
 *   message type, singular / repeated / map) or renamed in JSON; an enum value removed;
 * - a field of a request message that becomes google.api.field_behavior = REQUIRED: requests
 *   without it, accepted until then, would be refused with a 400.
 *
 * Additions (routes, RPCs, fields, enum values) break nothing. Neither does proto3 `optional`
 * coming or going: presence is not a wire change. Fields are matched by proto name, so a
 * rename counts as a removal.
 *
 * Route modules (src/contexts/) are compared by route and RPC only: their public shapes are
 * TypeBox schemas and hand-written mappings, which no descriptor describes, so a change there
 * is the context's own to review.
 */
export function breakingChanges(before: RouteSet, after: RouteSet): string[] {
  const breaks: string[] = [];
  const now = new Map(after.table.entries.map((entry) => [routeOf(entry), entry.value]));
  const messages = new MessageComparison(before.requiredFields, after.requiredFields);
  for (const entry of before.table.entries) {
    const route = routeOf(entry);
    const was = entry.value;
    const is = now.get(route);
    const kind = was.kind === 'binding' ? 'binding' : 'route module';
    if (!is) {
      breaks.push(`${kind} removed: ${route} (${servedBy(was)})`);
    } else if (servedBy(is) !== servedBy(was)) {
      breaks.push(`${kind} changed: ${route} now maps to ${servedBy(is)} instead of ${servedBy(was)}`);
    } else if (was.kind === 'binding' && is.kind === 'binding') {
      breaks.push(...bindingChanges(`${route} (${servedBy(was)})`, was, is));
      messages.compare(was.input, is.input, 'request');
      messages.compare(was.output, is.output, 'response');
    }
  }
  // Routes first, in route table order; then fields, in the order the messages were reached.
  return [...new Set([...breaks, ...messages.breaks])];
}

/** A reload refused because it would break clients; `breaks` lists why, one sentence each. */
export class BreakingReloadError extends Error {
  override name = 'BreakingReloadError';

  constructor(readonly breaks: readonly string[]) {
    super(`the reload would break clients (set reload.allowBreaking: true to apply it anyway):\n${breaks.map((line) => `  ${line}`).join('\n')}`);
  }
}

function routeOf(entry: RouteEntry<CompiledRoute>): string {
  return `${entry.method} ${entry.template.text}`;
}

/** The RPC a route calls (`acme.v1.Orders/GetOrder`), and through which route module. */
function servedBy(route: CompiledRoute): string {
  const rpc = `${route.rpc.method.parent.typeName}/${route.rpc.name}`;
  return route.kind === 'binding' ? rpc : `${rpc} through route module ${route.context}`;
}

function bindingChanges(describe: string, was: TranscodedRoute, is: TranscodedRoute): string[] {
  const changes: string[] = [];
  const quoted = (selector: string | undefined): string => (selector === undefined ? 'none' : `"${selector}"`);
  if (was.body !== is.body) changes.push(`binding changed: ${describe}: body changed from ${quoted(was.body)} to ${quoted(is.body)}`);
  const [wasResponse, isResponse] = [was.responseField?.name, is.responseField?.name];
  if (wasResponse !== isResponse) changes.push(`binding changed: ${describe}: response_body changed from ${quoted(wasResponse)} to ${quoted(isResponse)}`);
  if (was.streaming !== is.streaming) changes.push(`binding changed: ${describe}: ${is.streaming ? 'now' : 'no longer'} a server stream`);
  return changes;
}

/** Walks message pairs once each, so shared and recursive messages are compared once. */
class MessageComparison {
  readonly breaks: string[] = [];
  readonly #seen = new Set<string>();

  constructor(
    readonly requiredBefore: ReadonlySet<string>,
    readonly requiredAfter: ReadonlySet<string>,
  ) {}

  /** `side`: a message reached from a request may not gain REQUIRED fields; one reached from a response may. */
  compare(was: DescMessage, is: DescMessage, side: 'request' | 'response'): void {
    if (!this.#firstVisit(`${side} ${was.typeName} ${is.typeName}`)) return;
    for (const field of was.fields) {
      const name = `field ${was.typeName}.${field.name}`;
      const counterpart = is.fields.find((f) => f.name === field.name);
      if (!counterpart) {
        this.breaks.push(`${name}: removed`);
        continue;
      }
      if (counterpart.number !== field.number) this.breaks.push(`${name}: number changed from ${field.number} to ${counterpart.number}`);
      if (counterpart.jsonName !== field.jsonName) this.breaks.push(`${name}: JSON name changed from ${field.jsonName} to ${counterpart.jsonName}`);
      if (side === 'request' && this.requiredAfter.has(`${is.typeName}.${counterpart.name}`) && !this.requiredBefore.has(`${was.typeName}.${field.name}`)) {
        this.breaks.push(`${name}: now REQUIRED, so requests without it would be refused`);
      }
      const [wasType, isType] = [typeOf(field), typeOf(counterpart)];
      if (wasType !== isType) {
        this.breaks.push(`${name}: type changed from ${wasType} to ${isType}`);
        continue;
      }
      // Same type: the same message or enum name, whose own fields or values may have changed.
      if (field.message && counterpart.message) this.compare(field.message, counterpart.message, side);
      if (field.enum && counterpart.enum) this.#compareEnums(field.enum, counterpart.enum);
    }
  }

  #compareEnums(was: DescEnum, is: DescEnum): void {
    if (!this.#firstVisit(`${was.typeName} ${is.typeName}`)) return;
    const names = new Set(is.values.map((value) => value.name));
    for (const value of was.values) if (!names.has(value.name)) this.breaks.push(`enum value ${was.typeName}.${value.name}: removed`);
  }

  #firstVisit(pair: string): boolean {
    if (this.#seen.has(pair)) return false;
    this.#seen.add(pair);
    return true;
  }
}

/** A field's type as the wire and JSON see it: `int64`, `repeated acme.v1.Item`, `map<string, acme.v1.Status>`. */
function typeOf(field: DescField): string {
  switch (field.fieldKind) {
    case 'scalar':
      return scalarName(field.scalar);
    case 'enum':
      return field.enum.typeName;
    case 'message':
      return field.message.typeName;
    case 'list':
      return `repeated ${field.listKind === 'scalar' ? scalarName(field.scalar) : (field.message ?? field.enum)!.typeName}`;
    case 'map':
      return `map<${scalarName(field.mapKey)}, ${field.mapKind === 'scalar' ? scalarName(field.scalar) : (field.message ?? field.enum)!.typeName}>`;
  }
}

function scalarName(type: ScalarType): string {
  return ScalarType[type].toLowerCase();
}
