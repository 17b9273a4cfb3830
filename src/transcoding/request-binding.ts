import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { boundedViolations } from '../errors/gateway-error.js';
import { parseJsonExact } from './exact-json.js';
import { exceedsJsonDepth } from './json-depth.js';
import { canonicalMapKey, leafProblem, mapKeyProblem, valueTypeOf, type FieldViolation, type LeafType, type ValueType } from './field-violations.js';

/*
 * google.api.http binds one request message from three places: path variables, the query
 * string and the body. This merges them into one proto3 JSON object for fromJson, refusing
 * anything the HttpRule leaves ambiguous (a field set twice, from two places, or two members
 * of a oneof). Values from the URL are strings; they are turned into the JSON form fromJson
 * takes for the field (true, 7, "RED", {...}) and checked on the way. The body itself is
 * checked afterwards, with the rest, by validateMessageJson.
 */

export interface BindingSpec {
  /** Proto name of the body field, '*' for the whole message, undefined for no body. */
  body: '*' | string | undefined;
  /** Dotted proto field paths bound by the path template, e.g. ['name', 'book.shelf_id']. */
  pathFields: readonly string[];
}

export interface BindingOptions {
  /** Ignore query parameters that name no field, instead of rejecting them. */
  allowUnknownFields: boolean;
  /** server.maxJsonDepth: also the deepest JSON a Struct, Value or ListValue query parameter may hold. */
  maxJsonDepth: number;
}

export class RequestBindingError extends Error {
  override name = 'RequestBindingError';
  /** At most maxListedViolations, then a note of how many more were found. */
  readonly violations: readonly FieldViolation[];

  constructor(violations: readonly FieldViolation[]) {
    const listed = boundedViolations(violations);
    super(`invalid request: ${listed.map((v) => (v.field ? `${v.field}: ${v.description}` : v.description)).join('; ')}`);
    this.violations = listed;
  }
}

export interface RequestBinding {
  /**
   * @param pathParams decoded path variable values by dotted proto path
   * @param rawQuery the query string without "?", possibly ''
   * @param body the parsed JSON body, undefined when there is none
   * @returns proto3 JSON for fromJson(desc, result); keys the binding adds are JSON names
   * @throws RequestBindingError listing every problem found
   */
  build(pathParams: ReadonlyMap<string, string>, rawQuery: string, body: unknown): Record<string, unknown>;
}

/** Compiles the binding of `spec` onto `desc`; throws when the spec does not fit the message. */
export function compileRequestBinding(desc: DescMessage, spec: BindingSpec, options: BindingOptions): RequestBinding {
  const root = messageNode(desc);
  const bodyField = spec.body === undefined || spec.body === '*' ? undefined : resolveBodyField(root, desc, spec.body);
  const paths = spec.pathFields.map((path) => resolvePathField(root, desc, path));
  checkPathConflicts(paths, bodyField);
  return new CompiledBinding(root, spec.body === '*', bodyField, paths, boundTree(paths), options.allowUnknownFields, options.maxJsonDepth);
}

// ---------------------------------------------------------------------------------------------
// Field tables, compiled once per message type

/** How a query parameter may use a field. */
type Role = 'leaf' | 'list' | 'map' | 'message' | 'unsupported';

interface FieldNode {
  readonly field: DescField;
  readonly jsonName: string;
  readonly role: Role;
  /** The value type for 'leaf', the item type for 'list', the value type for 'map'. */
  readonly type: ValueType;
  readonly mapKey: ScalarType | undefined;
  /** Both spellings of every other member of the field's oneof. */
  readonly oneofPeerKeys: readonly string[];
  /** The field's message, for 'message'. */
  readonly child: MessageNode | undefined;
}

interface MessageNode {
  readonly desc: DescMessage;
  /** By proto name and by JSON name. */
  readonly fields: ReadonlyMap<string, FieldNode>;
}

const nodeCache = new WeakMap<DescMessage, MessageNode>();

/** The table of `desc` and, eagerly, of every message reachable through singular message fields. */
function messageNode(desc: DescMessage): MessageNode {
  const cached = nodeCache.get(desc);
  if (cached !== undefined) return cached;
  const fields = new Map<string, FieldNode>();
  const node: MessageNode = { desc, fields };
  nodeCache.set(desc, node); // before the fields: message types may be recursive
  for (const field of desc.fields) {
    const fieldNode = compileFieldNode(desc, field);
    fields.set(field.name, fieldNode).set(field.jsonName, fieldNode);
  }
  return node;
}

function compileFieldNode(desc: DescMessage, field: DescField): FieldNode {
  const type = valueTypeOf(field);
  const leaf = isLeaf(type);
  let role: Role;
  if (field.fieldKind === 'list') role = leaf ? 'list' : 'unsupported';
  else if (field.fieldKind === 'map') role = leaf ? 'map' : 'unsupported';
  else role = leaf ? 'leaf' : type.kind === 'message' ? 'message' : 'unsupported';
  const oneofPeerKeys: string[] = [];
  for (const peer of field.oneof?.fields ?? []) {
    if (peer === field) continue;
    oneofPeerKeys.push(peer.jsonName);
    if (peer.name !== peer.jsonName) oneofPeerKeys.push(peer.name);
  }
  return {
    field,
    jsonName: field.jsonName,
    role,
    type,
    mapKey: field.fieldKind === 'map' ? field.mapKey : undefined,
    oneofPeerKeys,
    child: role === 'message' && type.kind === 'message' ? messageNode(type.message) : undefined,
  };
}

function isLeaf(type: ValueType): type is LeafType {
  return type.kind !== 'message' && type.kind !== 'any';
}

// ---------------------------------------------------------------------------------------------
// Compiling the spec

interface PathField {
  /** The dotted proto path: the key of the path parameter map. */
  readonly key: string;
  readonly nodes: readonly FieldNode[];
  /** The JSON path of each node, for violations. */
  readonly jsonPaths: readonly string[];
  readonly type: LeafType;
}

/** Which fields a path variable binds, as a tree of fields from the request message down. */
interface BoundNode {
  bound: boolean;
  readonly children: Map<DescField, BoundNode>;
}

function resolveBodyField(root: MessageNode, desc: DescMessage, name: string): FieldNode {
  const node = root.fields.get(name);
  if (node === undefined || node.field.name !== name) throw new Error(`body field "${name}" is not a field of ${desc.typeName}`);
  return node;
}

// Path values are single URL segments: they can only fill a field with a one-string JSON form.
const pathLeafKinds = new Set<ValueType['kind']>(['scalar', 'enum', 'timestamp', 'duration', 'fieldMask']);

function resolvePathField(root: MessageNode, desc: DescMessage, key: string): PathField {
  const nodes: FieldNode[] = [];
  const jsonPaths: string[] = [];
  let message: MessageNode | undefined = root;
  for (const name of key.split('.')) {
    if (message === undefined) throw new Error(`path variable "${key}": "${nodes.at(-1)?.field.name}" is not a singular message field`);
    const node = message.fields.get(name);
    if (node === undefined || node.field.name !== name) throw new Error(`path variable "${key}": "${name}" is not a field of ${message.desc.typeName}`);
    nodes.push(node);
    jsonPaths.push(jsonPaths.length === 0 ? node.jsonName : `${jsonPaths.at(-1)}.${node.jsonName}`);
    message = node.child;
  }
  const leaf = nodes.at(-1)!;
  if (leaf.role !== 'leaf' || !isLeaf(leaf.type) || !pathLeafKinds.has(leaf.type.kind)) {
    throw new Error(`path variable "${key}": ${leaf.field.toString()} cannot be bound by the path (only singular scalars, enums, Timestamp, Duration, FieldMask and wrappers can)`);
  }
  return { key, nodes, jsonPaths, type: leaf.type };
}

function checkPathConflicts(paths: readonly PathField[], bodyField: FieldNode | undefined): void {
  const keys = new Set<string>();
  // A oneof within one message instance is named by the proto path of that message.
  const oneofMembers = new Map<string, string>();
  const claim = (prefix: string, field: DescField, who: string): void => {
    if (field.oneof === undefined) return;
    const slot = `${prefix}#${field.oneof.name}`;
    const other = oneofMembers.get(slot);
    if (other !== undefined && other !== who) throw new Error(`${other} and ${who} set two fields of oneof "${field.oneof.name}"`);
    oneofMembers.set(slot, who);
  };
  if (bodyField !== undefined) claim('', bodyField.field, `body field "${bodyField.field.name}"`);
  for (const path of paths) {
    if (keys.has(path.key)) throw new Error(`path variable "${path.key}" appears twice`);
    keys.add(path.key);
    if (path.nodes[0] === bodyField && path.nodes.length === 1) throw new Error(`field "${path.key}" is bound by both the path and the body`);
    let prefix = '';
    for (const node of path.nodes) {
      const member = prefix === '' ? node.field.name : `${prefix}.${node.field.name}`;
      claim(prefix, node.field, node === path.nodes.at(-1) ? `path variable "${path.key}"` : `field "${member}"`);
      prefix = member;
    }
  }
}

function boundTree(paths: readonly PathField[]): BoundNode {
  const root: BoundNode = { bound: false, children: new Map() };
  for (const path of paths) {
    let node = root;
    for (const fieldNode of path.nodes) {
      let child = node.children.get(fieldNode.field);
      if (child === undefined) {
        child = { bound: false, children: new Map() };
        node.children.set(fieldNode.field, child);
      }
      node = child;
    }
    node.bound = true;
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Building a request

class CompiledBinding implements RequestBinding {
  constructor(
    private readonly root: MessageNode,
    private readonly wholeBody: boolean,
    private readonly bodyField: FieldNode | undefined,
    private readonly paths: readonly PathField[],
    private readonly bound: BoundNode,
    private readonly allowUnknownFields: boolean,
    private readonly maxJsonDepth: number,
  ) {}

  build(pathParams: ReadonlyMap<string, string>, rawQuery: string, body: unknown): Record<string, unknown> {
    const violations: FieldViolation[] = [];
    let result: Record<string, unknown> = {};
    if (this.wholeBody) {
      // A shallow copy: path values are written into it, not into the caller's object.
      if (isObject(body)) result = { ...body };
      else if (body !== undefined) violations.push({ field: '', description: 'expected a JSON object as the request body' });
    } else if (this.bodyField !== undefined && body !== undefined) {
      setOwn(result, this.bodyField.jsonName, body);
    }
    for (const path of this.paths) {
      const text = pathParams.get(path.key);
      if (text !== undefined) this.bindPathValue(result, path, text, violations);
    }
    // One scan of the string; slices per parameter, no intermediate arrays.
    for (let start = 0; start < rawQuery.length; ) {
      let end = rawQuery.indexOf('&', start);
      if (end === -1) end = rawQuery.length;
      if (end > start) this.bindQueryParameter(result, rawQuery.slice(start, end), violations);
      start = end + 1;
    }
    if (violations.length > 0) throw new RequestBindingError(violations);
    return result;
  }

  private bindPathValue(result: Record<string, unknown>, path: PathField, text: string, violations: FieldViolation[]): void {
    const value = coerce(path.type, text, this.allowUnknownFields, this.maxJsonDepth);
    if (value instanceof Invalid) {
      violations.push({ field: path.jsonPaths.at(-1)!, description: value.description });
      return;
    }
    let target = result;
    const last = path.nodes.length - 1;
    for (let i = 0; i < last; i++) {
      const node = path.nodes[i]!;
      if (this.reportOneofPeer(target, node, path.jsonPaths[i]!, violations)) return;
      // The body may hold the message under either spelling; keep the one it used.
      const key = existingKey(target, node) ?? node.jsonName;
      const existing = target[key];
      if (existing !== undefined && existing !== null && !isObject(existing)) {
        violations.push({ field: path.jsonPaths[i]!, description: `expected an object (${node.field.message?.typeName})` });
        return;
      }
      // Copied, not modified: the object may be the caller's body.
      const child: Record<string, unknown> = isObject(existing) ? { ...existing } : {};
      setOwn(target, key, child);
      target = child;
    }
    const leaf = path.nodes[last]!;
    if (this.reportOneofPeer(target, leaf, path.jsonPaths[last]!, violations)) return;
    const key = existingKey(target, leaf);
    if (key !== undefined && target[key] !== null) {
      violations.push({ field: path.jsonPaths[last]!, description: 'field is set by both the path and the body' });
      return;
    }
    setOwn(target, key ?? leaf.jsonName, value);
  }

  private bindQueryParameter(result: Record<string, unknown>, parameter: string, violations: FieldViolation[]): void {
    const eq = parameter.indexOf('=');
    const rawKey = eq === -1 ? parameter : parameter.slice(0, eq);
    const key = decodeQueryComponent(rawKey);
    if (key === undefined) {
      violations.push({ field: rawKey, description: 'invalid percent-encoding in query parameter' });
      return;
    }
    if (key === '') return;
    const text = eq === -1 ? '' : decodeQueryComponent(parameter.slice(eq + 1));
    if (text === undefined) {
      violations.push({ field: key, description: 'invalid percent-encoding in query parameter' });
      return;
    }

    // "labels[k]" addresses a map entry; the key may hold dots, so it is split off first.
    let fieldPath = key;
    let mapKey: string | undefined;
    const bracket = key.indexOf('[');
    if (bracket !== -1) {
      if (!key.endsWith(']')) {
        if (!this.allowUnknownFields) violations.push({ field: key, description: 'unknown query parameter' });
        return;
      }
      fieldPath = key.slice(0, bracket);
      mapKey = key.slice(bracket + 1, -1);
    }

    const nodes = this.resolveQueryKey(fieldPath, key, violations);
    if (nodes === undefined) return;
    // Written only once the whole key resolved, so an unknown key leaves no empty objects behind.
    let target = result;
    let jsonPath = '';
    const last = nodes.length - 1;
    for (let i = 0; i < last; i++) {
      const node = nodes[i]!;
      jsonPath = i === 0 ? node.jsonName : `${jsonPath}.${node.jsonName}`;
      if (this.reportOneofPeer(target, node, jsonPath, violations)) return;
      // Objects reachable here were made by this binding (the body is out of reach), so no copy.
      let child = target[node.jsonName];
      if (!isObject(child)) {
        child = {};
        setOwn(target, node.jsonName, child);
      }
      target = child as Record<string, unknown>;
    }
    const leaf = nodes[last]!;
    this.bindQueryValue(target, leaf, mapKey, text, last === 0 ? leaf.jsonName : `${jsonPath}.${leaf.jsonName}`, violations);
  }

  /** The fields a dotted query key names, or undefined (with any violation reported). */
  private resolveQueryKey(fieldPath: string, key: string, violations: FieldViolation[]): FieldNode[] | undefined {
    const nodes: FieldNode[] = [];
    let message = this.root;
    let bound: BoundNode | undefined = this.bound;
    let jsonPath = '';
    for (let start = 0; ; ) {
      const dot = fieldPath.indexOf('.', start);
      const name = dot === -1 ? fieldPath.slice(start) : fieldPath.slice(start, dot);
      const node = message.fields.get(name);
      if (node === undefined) {
        if (!this.allowUnknownFields) violations.push({ field: key, description: 'unknown query parameter' });
        return undefined;
      }
      nodes.push(node);
      jsonPath = start === 0 ? node.jsonName : `${jsonPath}.${node.jsonName}`;
      if (this.wholeBody || (start === 0 && node === this.bodyField)) {
        violations.push({ field: jsonPath, description: 'field is bound by the body' });
        return undefined;
      }
      bound = bound?.children.get(node.field);
      if (bound?.bound === true) {
        violations.push({ field: jsonPath, description: 'field is bound by the path' });
        return undefined;
      }
      if (dot === -1) return nodes;
      if (node.child === undefined) {
        violations.push({ field: jsonPath, description: 'only fields of singular messages can be set by query parameters' });
        return undefined;
      }
      message = node.child;
      start = dot + 1;
    }
  }

  private bindQueryValue(
    target: Record<string, unknown>,
    node: FieldNode,
    mapKey: string | undefined,
    text: string,
    jsonPath: string,
    violations: FieldViolation[],
  ): void {
    if (node.role === 'message') {
      violations.push({ field: jsonPath, description: `a message cannot be set as a whole; set its fields, e.g. "${jsonPath}.<field>="` });
      return;
    }
    if (node.role === 'unsupported') {
      violations.push({ field: jsonPath, description: 'field cannot be set by a query parameter' });
      return;
    }
    if (mapKey !== undefined && node.role !== 'map') {
      violations.push({ field: jsonPath, description: 'field is not a map' });
      return;
    }
    switch (node.role) {
      case 'leaf': {
        if (this.reportOneofPeer(target, node, jsonPath, violations)) return;
        if (Object.hasOwn(target, node.jsonName)) {
          violations.push({ field: jsonPath, description: 'field is set more than once' });
          return;
        }
        const value = coerce(node.type as LeafType, text, this.allowUnknownFields, this.maxJsonDepth);
        if (value instanceof Invalid) violations.push({ field: jsonPath, description: value.description });
        else setOwn(target, node.jsonName, value);
        return;
      }
      case 'list': {
        let list = target[node.jsonName] as unknown[] | undefined;
        if (list === undefined) {
          list = [];
          setOwn(target, node.jsonName, list);
        }
        const value = coerce(node.type as LeafType, text, this.allowUnknownFields, this.maxJsonDepth);
        if (value instanceof Invalid) violations.push({ field: `${jsonPath}[${list.length}]`, description: value.description });
        else list.push(value);
        return;
      }
      case 'map': {
        if (mapKey === undefined) {
          violations.push({ field: jsonPath, description: `expected ${jsonPath}[key]=value for a map field` });
          return;
        }
        const entryPath = `${jsonPath}[${JSON.stringify(mapKey)}]`;
        const keyProblem = mapKeyProblem(node.mapKey!, mapKey);
        if (keyProblem !== undefined) {
          violations.push({ field: entryPath, description: `invalid map key: ${keyProblem}` });
          return;
        }
        let map = target[node.jsonName] as Record<string, unknown> | undefined;
        if (map === undefined) {
          map = {};
          setOwn(target, node.jsonName, map);
        }
        // "007" and "7" are one integer key.
        const canonical = canonicalMapKey(node.mapKey!, mapKey);
        if (Object.hasOwn(map, canonical)) {
          violations.push({ field: entryPath, description: 'map key is set more than once' });
          return;
        }
        const value = coerce(node.type as LeafType, text, this.allowUnknownFields, this.maxJsonDepth);
        if (value instanceof Invalid) violations.push({ field: entryPath, description: value.description });
        else setOwn(map, canonical, value);
        return;
      }
    }
  }

  /** Reports and returns true when another member of the node's oneof is already in `target`. */
  private reportOneofPeer(target: Record<string, unknown>, node: FieldNode, jsonPath: string, violations: FieldViolation[]): boolean {
    for (const peerKey of node.oneofPeerKeys) {
      if (Object.hasOwn(target, peerKey)) {
        violations.push({ field: jsonPath, description: `oneof "${node.field.oneof?.name}" is also set by "${peerKey}"` });
        return true;
      }
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Strings from the URL to proto3 JSON

/** A coercion failure; a class so that success needs no wrapper object. */
class Invalid {
  constructor(readonly description: string) {}
}

const decimalInteger = /^-?\d+$/;

const jsonTypeNames: Partial<Record<LeafType['kind'], string>> = {
  struct: 'google.protobuf.Struct',
  value: 'google.protobuf.Value',
  listValue: 'google.protobuf.ListValue',
};

function coerce(type: LeafType, text: string, allowUnknownEnumNames: boolean, maxJsonDepth: number): unknown {
  let value: unknown = text;
  switch (type.kind) {
    case 'scalar':
      // Numbers stay strings: fromJson takes numeric strings, and int64 keeps its precision.
      if (type.scalar === ScalarType.BOOL) {
        if (text === 'true') return true;
        if (text === 'false') return false;
      }
      break;
    case 'enum':
      if (decimalInteger.test(text)) value = Number(text);
      break;
    case 'struct':
    case 'value':
    case 'listValue':
      // The body's limit, for the same reasons (json-depth.ts); the header limit alone lets ~16,000 levels through.
      if (exceedsJsonDepth(text, maxJsonDepth)) return new Invalid(`JSON nested deeper than ${maxJsonDepth} levels (server.maxJsonDepth)`);
      try {
        value = parseJsonExact(text);
      } catch {
        return new Invalid(`expected JSON text (${jsonTypeNames[type.kind]})`);
      }
      break;
  }
  const problem = leafProblem(type, value, allowUnknownEnumNames);
  return problem === undefined ? value : new Invalid(problem);
}

/** application/x-www-form-urlencoded decoding; undefined for a malformed escape. */
function decodeQueryComponent(text: string): string | undefined {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function existingKey(target: Record<string, unknown>, node: FieldNode): string | undefined {
  if (Object.hasOwn(target, node.jsonName)) return node.jsonName;
  return Object.hasOwn(target, node.field.name) ? node.field.name : undefined;
}

/** Assignment, except that "__proto__" (a valid map key) becomes a key rather than a prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
