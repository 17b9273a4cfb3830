import type protobuf from 'protobufjs';
import { ProtoLoadError } from './proto-files.js';

/** One HTTP binding of an RPC (the main google.api.http rule or an additional binding). */
export interface HttpRule {
  /** Upper-case HTTP method: GET, PUT, POST, DELETE, PATCH or a custom kind. */
  readonly method: string;
  /** The path template exactly as written in the proto. */
  readonly path: string;
  /** undefined: no body; '*': the whole request message; else a top-level field name. */
  readonly body: string | undefined;
  /** undefined: the whole response message; else a top-level field name. */
  readonly responseBody: string | undefined;
}

type RawRule = Record<string, unknown>;

const methodKeys = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Reads the google.api.http option (with additional_bindings) that protobufjs parsed. */
export function extractHttpRules(method: protobuf.Method): HttpRule[] {
  const options = (method.parsedOptions ?? []) as RawRule[];
  const rules: HttpRule[] = [];
  for (const option of options) {
    const raw = option['(google.api.http)'] as RawRule | undefined;
    if (!raw) continue;
    rules.push(toRule(method, raw));
    const additional = raw['additional_bindings'];
    // protobufjs gives one additional binding as an object and several as an array.
    const extra = Array.isArray(additional) ? additional : additional ? [additional] : [];
    for (const binding of extra as RawRule[]) {
      if (binding['additional_bindings']) throw new ProtoLoadError(`${method.fullName}: additional_bindings must not nest`);
      rules.push(toRule(method, binding));
    }
  }
  return rules;
}

function toRule(method: protobuf.Method, raw: RawRule): HttpRule {
  let verb: string | undefined;
  let path: string | undefined;
  for (const key of methodKeys) {
    if (typeof raw[key] === 'string') {
      if (verb) throw new ProtoLoadError(`${method.fullName}: a google.api.http rule sets both ${verb.toLowerCase()} and ${key}`);
      verb = key.toUpperCase();
      path = raw[key] as string;
    }
  }
  const custom = raw['custom'] as { kind?: unknown; path?: unknown } | undefined;
  if (custom && typeof custom.kind === 'string' && typeof custom.path === 'string') {
    if (verb) throw new ProtoLoadError(`${method.fullName}: a google.api.http rule sets both ${verb.toLowerCase()} and custom`);
    verb = custom.kind.toUpperCase();
    path = custom.path;
  }
  if (!verb || path === undefined) throw new ProtoLoadError(`${method.fullName}: a google.api.http rule has no method and path`);
  const body = typeof raw['body'] === 'string' && raw['body'] !== '' ? raw['body'] : undefined;
  const responseBody = typeof raw['response_body'] === 'string' && raw['response_body'] !== '' ? raw['response_body'] : undefined;
  return { method: verb, path, body, responseBody };
}
