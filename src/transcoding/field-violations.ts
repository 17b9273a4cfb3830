import { ScalarType, type DescEnum, type DescField, type DescMessage, type Registry } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { maxListedViolations, violationsNotListed } from '../errors/gateway-error.js';

/*
 * fromJson stops at the first problem and words it for programmers ("cannot decode field
 * acme.v1.Req.count from JSON: ..."). This walks the request JSON once, before fromJson, and
 * lists every bad field by its JSON path so that a 400 tells the client all it must fix.
 * The rules mirror @bufbuild/protobuf's fromJson, sometimes stricter, never looser: what passes
 * here decodes.
 */

export interface FieldViolation {
  /** JSON path with JSON names: "items[2].price", `labels["k"]`, "" for the root. */
  field: string;
  description: string;
}

export interface ValidationOptions {
  /**
   * Unknown keys are accepted, and so are unknown enum names: fromJson with ignoreUnknownFields
   * drops both, as the proto3 JSON spec asks of a lenient parser.
   */
  allowUnknownFields: boolean;
  /** Fully-qualified names ("acme.v1.Req.name") of fields with field_behavior = REQUIRED. */
  requiredFields?: ReadonlySet<string>;
  /** Resolves the "@type" of google.protobuf.Any; without it any "@type" is accepted. */
  registry?: Registry;
}

/** The JSON form a singular value, list item or map value must have. Wrappers are their scalar. */
export type ValueType = LeafType | { readonly kind: 'message'; readonly message: DescMessage } | { readonly kind: 'any' };

/** Value types whose JSON is checked without descending into fields. */
export type LeafType =
  | { readonly kind: 'scalar'; readonly scalar: ScalarType }
  | { readonly kind: 'enum'; readonly enum: DescEnum }
  | { readonly kind: 'timestamp' | 'duration' | 'fieldMask' | 'struct' | 'value' | 'listValue' };

interface FieldPlan {
  readonly field: DescField;
  readonly jsonName: string;
  readonly container: 'singular' | 'list' | 'map';
  readonly type: ValueType;
  readonly mapKey: ScalarType | undefined;
  /** The members of the field's oneof declared before it. */
  readonly earlierOneofPeers: FieldPlan[];
  /** fromJson skips null for scalar oneof members only; other members count as set even when null. */
  readonly nullSetsOneof: boolean;
  readonly explicitPresence: boolean;
  readonly qualifiedName: string;
}

interface MessagePlan {
  readonly desc: DescMessage;
  /** How a value of this message type is checked: as fields, or in its well-known JSON form. */
  readonly asValue: ValueType;
  /** By proto name and by JSON name. */
  readonly byKey: ReadonlyMap<string, FieldPlan>;
  readonly fields: readonly FieldPlan[];
}

const maxDepth = 100; // fromJson's and fromBinary's recursion limit, and most protobuf runtimes' default

const noViolations: FieldViolation[] = Object.freeze([]) as unknown as FieldViolation[];

/**
 * Lists what is wrong with `json` as the proto3 JSON of `desc`; the shared empty array when
 * nothing is. Past maxListedViolations, violations are only counted: the last entry then says
 * how many more there are.
 */
export function validateMessageJson(desc: DescMessage, json: unknown, options: ValidationOptions): FieldViolation[] {
  const required = options.requiredFields;
  const ctx: Context = {
    violations: undefined,
    unlisted: 0,
    names: [],
    kinds: [],
    depth: 0,
    options,
    required: required !== undefined && required.size > 0 ? requiredPlansFor(required) : undefined,
  };
  const type = planOf(desc).asValue;
  if (json === null && type.kind !== 'value') report(ctx, `expected an object (${desc.typeName})`);
  else checkValue(type, json, ctx);
  if (ctx.unlisted > 0) ctx.violations!.push(violationsNotListed(ctx.unlisted));
  return ctx.violations ?? noViolations;
}

// ---------------------------------------------------------------------------------------------
// Walking the JSON

interface Context {
  violations: FieldViolation[] | undefined;
  /** Violations found beyond maxListedViolations. */
  unlisted: number;
  /** The path to the value being checked, as parallel stacks of segment and segment kind. */
  readonly names: (string | number)[];
  readonly kinds: PathKind[];
  depth: number;
  readonly options: ValidationOptions;
  readonly required: WeakMap<MessagePlan, readonly FieldPlan[]> | undefined;
}

const enum PathKind {
  Field,
  Index,
  MapKey,
}

function checkValue(type: ValueType, value: unknown, ctx: Context): void {
  switch (type.kind) {
    case 'message':
      checkMessage(planOf(type.message), value, ctx);
      return;
    case 'any':
      checkAny(value, ctx);
      return;
    default: {
      const problem = leafProblem(type, value, ctx.options.allowUnknownFields, ctx.depth);
      if (problem !== undefined) report(ctx, problem);
    }
  }
}

function checkMessage(plan: MessagePlan, json: unknown, ctx: Context, skipTypeKey = false): void {
  if (!isObject(json)) {
    report(ctx, `expected an object (${plan.desc.typeName})`);
    return;
  }
  if (++ctx.depth > maxDepth) {
    report(ctx, 'message nesting is too deep');
    ctx.depth--;
    return;
  }
  // for-in rather than Object.keys: no array per message.
  for (const key in json) {
    if (!Object.hasOwn(json, key) || (skipTypeKey && key === '@type')) continue;
    const value = json[key];
    const field = plan.byKey.get(key);
    if (field === undefined) {
      if (!ctx.options.allowUnknownFields) reportAt(ctx, key, 'unknown field');
      continue;
    }
    enter(ctx, field.jsonName, PathKind.Field);
    // Both spellings of one field: reported once, at the proto-name key; both values are checked.
    const twice = key !== field.jsonName && Object.hasOwn(json, field.jsonName);
    if (twice) report(ctx, 'field is set twice, by its proto name and its JSON name');
    else if (field.earlierOneofPeers.length > 0 && (value !== null || field.nullSetsOneof)) checkOneof(field, json, ctx);
    checkField(field, value, ctx);
    leave(ctx);
  }
  if (ctx.required !== undefined) checkRequired(plan, json, ctx, ctx.required);
  ctx.depth--;
}

/**
 * Two members of a oneof set: reported once, at the one declared later, so each conflict is
 * found without a per-message record of what was seen.
 */
function checkOneof(field: FieldPlan, json: Record<string, unknown>, ctx: Context): void {
  for (const peer of field.earlierOneofPeers) {
    const value = ownValue(json, peer.jsonName) ?? ownValue(json, peer.field.name);
    if (value !== undefined && (value !== null || peer.nullSetsOneof)) {
      report(ctx, `oneof "${field.field.oneof?.name ?? ''}" is also set by "${peer.jsonName}"`);
      return;
    }
  }
}

function checkField(field: FieldPlan, value: unknown, ctx: Context): void {
  if (value === null) return; // null is the field's default, for every kind of field
  switch (field.container) {
    case 'singular':
      checkValue(field.type, value, ctx);
      return;
    case 'list':
      checkList(field.type, value, ctx);
      return;
    case 'map':
      checkMap(field, value, ctx);
      return;
  }
}

function checkList(type: ValueType, value: unknown, ctx: Context): void {
  if (!Array.isArray(value)) {
    report(ctx, 'expected an array');
    return;
  }
  for (let i = 0; i < value.length; i++) {
    enter(ctx, i, PathKind.Index);
    const item: unknown = value[i];
    if (item === null && !nullIsAValue(type)) report(ctx, 'null is not allowed in a list');
    else checkValue(type, item, ctx);
    leave(ctx);
  }
}

function checkMap(field: FieldPlan, value: unknown, ctx: Context): void {
  if (!isObject(value)) {
    report(ctx, 'expected an object (map)');
    return;
  }
  const keyType = field.mapKey!;
  let nonCanonicalKeys = false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    enter(ctx, key, PathKind.MapKey);
    const keyProblem = mapKeyProblem(keyType, key);
    if (keyProblem !== undefined) report(ctx, `invalid map key: ${keyProblem}`);
    else if (!nonCanonicalKeys && canonicalMapKey(keyType, key) !== key) nonCanonicalKeys = true;
    const item = value[key];
    if (item === null && !nullIsAValue(field.type)) report(ctx, 'null is not allowed as a map value');
    else checkValue(field.type, item, ctx);
    leave(ctx);
  }
  // "01" and "1" are one int64 key; fromJson rejects the pair. Rare, so only then a Set.
  if (nonCanonicalKeys) reportDuplicateKeys(keyType, value, ctx);
}

function reportDuplicateKeys(keyType: ScalarType, map: Record<string, unknown>, ctx: Context): void {
  const seen = new Set<string>();
  for (const key of Object.keys(map)) {
    if (mapKeyProblem(keyType, key) !== undefined) continue;
    const canonical = canonicalMapKey(keyType, key);
    if (seen.has(canonical)) reportAt(ctx, key, 'duplicate map key', PathKind.MapKey);
    seen.add(canonical);
  }
}

/** Only google.protobuf.Value and NullValue give null a meaning inside lists and maps. */
function nullIsAValue(type: ValueType): boolean {
  return type.kind === 'value' || (type.kind === 'enum' && type.enum.typeName === 'google.protobuf.NullValue');
}

function checkAny(json: unknown, ctx: Context): void {
  if (!isObject(json)) {
    report(ctx, 'expected an object with "@type" (google.protobuf.Any)');
    return;
  }
  if (!Object.hasOwn(json, '@type')) {
    // {} is the JSON of an empty Any.
    if (hasOwnKeys(json)) report(ctx, 'expected an object with "@type" (google.protobuf.Any)');
    return;
  }
  const typeUrl = json['@type'];
  const typeName = typeof typeUrl === 'string' ? typeUrl.slice(typeUrl.lastIndexOf('/') + 1) : '';
  if (typeName === '') {
    reportAt(ctx, '@type', 'expected a type URL like "type.googleapis.com/acme.v1.Book"');
    return;
  }
  const desc = ctx.options.registry?.getMessage(typeName);
  if (desc === undefined) {
    if (ctx.options.registry !== undefined) reportAt(ctx, '@type', `unknown type ${quote(typeUrl as string)}`);
    return;
  }
  const plan = planOf(desc);
  const type = plan.asValue;
  if (type.kind === 'message') {
    checkMessage(plan, json, ctx, true);
    return;
  }
  // Types with their own JSON form are wrapped: {"@type": ..., "value": <that form>}.
  if (!Object.hasOwn(json, 'value')) {
    reportAt(ctx, 'value', 'required field is missing');
    return;
  }
  if (++ctx.depth > maxDepth) {
    report(ctx, 'message nesting is too deep');
  } else {
    enter(ctx, 'value', PathKind.Field);
    checkValue(type, json['value'], ctx);
    leave(ctx);
  }
  ctx.depth--;
}

// ---------------------------------------------------------------------------------------------
// Required fields

const requiredCache = new WeakMap<ReadonlySet<string>, WeakMap<MessagePlan, readonly FieldPlan[]>>();

// The set is the catalog's, built once per load, so its per-message lists are cached with it.
function requiredPlansFor(required: ReadonlySet<string>): WeakMap<MessagePlan, readonly FieldPlan[]> {
  let byPlan = requiredCache.get(required);
  if (byPlan === undefined) {
    byPlan = new WeakMap();
    requiredCache.set(required, byPlan);
  }
  return byPlan;
}

function checkRequired(plan: MessagePlan, json: Record<string, unknown>, ctx: Context, byPlan: WeakMap<MessagePlan, readonly FieldPlan[]>): void {
  let fields = byPlan.get(plan);
  if (fields === undefined) {
    const required = ctx.options.requiredFields;
    fields = plan.fields.filter((f) => required?.has(f.qualifiedName) === true);
    byPlan.set(plan, fields);
  }
  for (const field of fields) {
    const value = ownValue(json, field.jsonName) ?? ownValue(json, field.field.name);
    if (isMissing(field, value)) reportAt(ctx, field.jsonName, 'required field is missing');
  }
}

/** proto3 cannot tell a field without presence set to its zero value from an unset one. */
function isMissing(field: FieldPlan, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (field.container) {
    case 'list':
      return Array.isArray(value) && value.length === 0;
    case 'map':
      return isObject(value) && !hasOwnKeys(value);
    case 'singular':
      return !field.explicitPresence && isZeroValue(field.type, value);
  }
}

function isZeroValue(type: ValueType, value: unknown): boolean {
  switch (type.kind) {
    case 'scalar':
      switch (type.scalar) {
        case ScalarType.STRING:
        case ScalarType.BYTES:
          return value === '';
        case ScalarType.BOOL:
          return value === false;
        default:
          return value === 0 || (typeof value === 'string' && scalarProblem(type.scalar, value) === undefined && Number(value) === 0);
      }
    case 'enum':
      return value === 0 || (typeof value === 'string' && enumNumbers(type.enum).get(value) === 0);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Leaf values: scalars, enums and the well-known types with a string, object or array form

/**
 * Why `value` (not null) is not valid JSON for `type`, or undefined when it is. `messageDepth`:
 * the messages around the value, which the nesting of a Struct, Value or ListValue adds to.
 */
export function leafProblem(type: LeafType, value: unknown, allowUnknownEnumNames: boolean, messageDepth = 0): string | undefined {
  switch (type.kind) {
    case 'scalar':
      return scalarProblem(type.scalar, value);
    case 'enum':
      return enumProblem(type.enum, value, allowUnknownEnumNames);
    case 'timestamp':
      return typeof value === 'string' ? timestampProblem(value) : timestampExpected;
    case 'duration':
      return typeof value === 'string' ? durationProblem(value) : durationExpected;
    case 'fieldMask':
      return typeof value === 'string' && fieldMaskForm.test(value) ? undefined : fieldMaskExpected;
    case 'struct':
      return isObject(value) ? dynamicValueProblem(value, messageDepth) : 'expected an object (google.protobuf.Struct)';
    case 'listValue':
      return Array.isArray(value) ? dynamicValueProblem(value, messageDepth) : 'expected an array (google.protobuf.ListValue)';
    case 'value':
      return dynamicValueProblem(value, messageDepth);
  }
}

/**
 * What is wrong with the JSON of a Struct, Value or ListValue:
 * - a number JSON.parse read as Infinity (1e400), which a google.protobuf.Value cannot hold
 *   (fromJson takes it, toJson then throws);
 * - nesting past the 100 messages that protobuf runtimes decode by default (protoc's, Java's,
 *   protobuf-es's and protobuf.js's recursion limit): each object or array level is two
 *   messages on the wire (a Struct or ListValue, and the Value of each member), so JSON that
 *   server.maxJsonDepth lets through could still reach the upstream as a message it cannot
 *   decode, and come back as its INTERNAL error, a 500.
 */
function dynamicValueProblem(value: unknown, messageDepth: number): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : 'number out of range (google.protobuf.Value)';
  if (typeof value !== 'object' || value === null) return undefined;
  if (messageDepth + 2 > maxDepth) return 'message nesting is too deep';
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    const problem = dynamicValueProblem(item, messageDepth + 2);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

const scalarNames: Record<ScalarType, string> = {
  [ScalarType.DOUBLE]: 'double',
  [ScalarType.FLOAT]: 'float',
  [ScalarType.INT64]: 'int64',
  [ScalarType.UINT64]: 'uint64',
  [ScalarType.INT32]: 'int32',
  [ScalarType.FIXED64]: 'fixed64',
  [ScalarType.FIXED32]: 'fixed32',
  [ScalarType.BOOL]: 'bool',
  [ScalarType.STRING]: 'string',
  [ScalarType.BYTES]: 'bytes',
  [ScalarType.UINT32]: 'uint32',
  [ScalarType.SFIXED32]: 'sfixed32',
  [ScalarType.SFIXED64]: 'sfixed64',
  [ScalarType.SINT32]: 'sint32',
  [ScalarType.SINT64]: 'sint64',
};

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

// Decimal only: fromJson would also take "0x1F" or " 7" through Number(), clients should not.
const decimalNumber = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const decimalInteger = /^-?\d+$/;
// Standard or URL-safe alphabet, padding optional.
const base64Form = /^[A-Za-z0-9+/_-]*={0,2}$/;

function scalarProblem(scalar: ScalarType, value: unknown): string | undefined {
  switch (scalar) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return int32Problem(scalar, value, INT32_MIN, INT32_MAX);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return int32Problem(scalar, value, 0, UINT32_MAX);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return int64Problem(scalar, value, INT64_MIN, INT64_MAX);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return int64Problem(scalar, value, 0n, UINT64_MAX);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return floatProblem(scalar, value);
    case ScalarType.BOOL:
      return typeof value === 'boolean' ? undefined : 'expected true or false';
    case ScalarType.STRING:
      if (typeof value !== 'string') return 'expected a string';
      return isWellFormed(value) ? undefined : 'expected a string of valid Unicode';
    case ScalarType.BYTES:
      return typeof value === 'string' && isBase64(value) ? undefined : 'expected a base64 string (bytes)';
  }
}

function int32Problem(scalar: ScalarType, value: unknown, min: number, max: number): string | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && decimalNumber.test(value)) n = Number(value);
  else return `expected an integer string or number (${scalarNames[scalar]})`;
  if (!Number.isInteger(n)) return `expected an integer string or number (${scalarNames[scalar]})`;
  return n < min || n > max ? `integer out of range (${scalarNames[scalar]})` : undefined;
}

function int64Problem(scalar: ScalarType, value: unknown, min: bigint, max: bigint): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return `expected an integer string or number (${scalarNames[scalar]})`;
    if (!Number.isSafeInteger(value)) return `integer is too large for a JSON number, send it as a string (${scalarNames[scalar]})`;
    return value < 0 && min === 0n ? `integer out of range (${scalarNames[scalar]})` : undefined;
  }
  if (typeof value !== 'string' || !decimalInteger.test(value)) return `expected an integer string or number (${scalarNames[scalar]})`;
  // Up to 15 digits is always within int64; only the sign matters for unsigned types.
  if (value.length <= 15) return min === 0n && value[0] === '-' && !/^-0+$/.test(value) ? `integer out of range (${scalarNames[scalar]})` : undefined;
  const n = BigInt(value);
  return n < min || n > max ? `integer out of range (${scalarNames[scalar]})` : undefined;
}

function floatProblem(scalar: ScalarType, value: unknown): string | undefined {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return undefined;
  else if (typeof value === 'string' && decimalNumber.test(value)) n = Number(value);
  else return `expected a number or numeric string (${scalarNames[scalar]})`;
  if (!Number.isFinite(n)) return `number out of range (${scalarNames[scalar]})`;
  // Too large for a float32 means it would round to infinity.
  return scalar === ScalarType.FLOAT && !Number.isFinite(Math.fround(n)) ? `number out of range (float)` : undefined;
}

function isBase64(value: string): boolean {
  if (!base64Form.test(value)) return false;
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  if (padding > 0 && value.length % 4 !== 0) return false;
  // A lone last character carries 6 of 8 bits of a byte: never valid.
  return (value.length - padding) % 4 !== 1;
}

// String.prototype.isWellFormed is ES2024; the project's lib is ES2023. fromJson rejects lone surrogates.
function isWellFormed(value: string): boolean {
  return (value as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function enumProblem(desc: DescEnum, value: unknown, allowUnknownNames: boolean): string | undefined {
  if (typeof value === 'string') {
    return allowUnknownNames || enumNumbers(desc).has(value) ? undefined : `invalid value ${quote(value)} for enum ${desc.typeName}`;
  }
  if (typeof value !== 'number' || !Number.isInteger(value)) return `expected a name or integer of enum ${desc.typeName}`;
  // Open (proto3) enums keep unknown numbers; closed (proto2) ones do not.
  const valid = desc.open ? value >= INT32_MIN && value <= INT32_MAX : desc.values.some((v) => v.number === value);
  return valid ? undefined : `invalid value ${value} for enum ${desc.typeName}`;
}

const enumNumberCache = new WeakMap<DescEnum, ReadonlyMap<string, number>>();

/** Enum numbers by proto name and by JSON name, the two spellings fromJson accepts. */
function enumNumbers(desc: DescEnum): ReadonlyMap<string, number> {
  let numbers = enumNumberCache.get(desc);
  if (numbers === undefined) {
    const map = new Map<string, number>();
    for (const v of desc.values) map.set(v.jsonName, v.number).set(v.name, v.number);
    numbers = map;
    enumNumberCache.set(desc, numbers);
  }
  return numbers;
}

const timestampExpected = 'expected an RFC 3339 timestamp string, e.g. "2024-01-31T12:00:00Z"';
const timestampForm = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;
const timestampMsMin = Date.parse('0001-01-01T00:00:00Z');
const timestampMsMax = Date.parse('9999-12-31T23:59:59Z');

function timestampProblem(value: string): string | undefined {
  const m = timestampForm.exec(value);
  if (m === null) return timestampExpected;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  // Date.parse would roll "02-31" over into March; RFC 3339 calls it invalid.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return timestampExpected;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59) return timestampExpected;
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return timestampExpected;
  // Only the first and last year can cross the range once the offset is applied.
  if (year > 1 && year < 9999) return undefined;
  // Parsed the way fromJson does: the fraction dropped, the offset applied.
  const ms = Date.parse(value.replace(/\.\d+/, ''));
  return ms < timestampMsMin || ms > timestampMsMax ? 'timestamp out of range (years 0001 to 9999)' : undefined;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

const durationExpected = 'expected a duration string in seconds, e.g. "1.5s"';
const durationForm = /^-?(\d+)(?:\.\d{1,9})?s$/;
const durationSecondsMax = 315576000000;

function durationProblem(value: string): string | undefined {
  const m = durationForm.exec(value);
  if (m === null) return durationExpected;
  return Number(m[1]) > durationSecondsMax ? 'duration out of range (±315576000000s)' : undefined;
}

const fieldMaskExpected = 'expected a comma-separated string of lowerCamelCase field paths';
// Underscores are what fromJson rejects: the path is turned back into snake_case.
const fieldMaskPath = '[A-Za-z][A-Za-z0-9]*(?:\\.[A-Za-z][A-Za-z0-9]*)*';
const fieldMaskForm = new RegExp(`^(?:${fieldMaskPath}(?:,${fieldMaskPath})*)?$`);

// ---------------------------------------------------------------------------------------------
// Map keys

/** Why `key` is not a JSON map key of type `scalar`, or undefined when it is. */
export function mapKeyProblem(scalar: ScalarType, key: string): string | undefined {
  switch (scalar) {
    case ScalarType.STRING:
      return isWellFormed(key) ? undefined : 'expected a string of valid Unicode';
    case ScalarType.BOOL:
      return key === 'true' || key === 'false' ? undefined : 'expected "true" or "false"';
    default:
      if (!decimalInteger.test(key)) return `expected an integer string (${scalarNames[scalar]})`;
      return scalarProblem(scalar, key);
  }
}

/** The spelling of an integer key fromJson stores ("007" → "7", "-0" → "0"); others as they are. */
export function canonicalMapKey(scalar: ScalarType, key: string): string {
  if (scalar === ScalarType.STRING || scalar === ScalarType.BOOL) return key;
  const digits = key.replace(/^(-?)0+(?=\d)/, '$1');
  return digits === '-0' ? '0' : digits;
}

// ---------------------------------------------------------------------------------------------
// Plans: what each message's fields accept, computed once per descriptor

const planCache = new WeakMap<DescMessage, MessagePlan>();

function planOf(desc: DescMessage): MessagePlan {
  let plan = planCache.get(desc);
  if (plan === undefined) {
    plan = compilePlan(desc);
    planCache.set(desc, plan);
  }
  return plan;
}

function compilePlan(desc: DescMessage): MessagePlan {
  const byKey = new Map<string, FieldPlan>();
  const fields: FieldPlan[] = [];
  for (const field of desc.fields) {
    const plan: FieldPlan = {
      field,
      jsonName: field.jsonName,
      container: field.fieldKind === 'list' ? 'list' : field.fieldKind === 'map' ? 'map' : 'singular',
      type: valueTypeOf(field),
      mapKey: field.fieldKind === 'map' ? field.mapKey : undefined,
      earlierOneofPeers: [],
      nullSetsOneof: field.fieldKind !== 'scalar',
      explicitPresence: field.fieldKind === 'message' || field.presence !== FeatureSet_FieldPresence.IMPLICIT,
      qualifiedName: `${desc.typeName}.${field.name}`,
    };
    fields.push(plan);
    byKey.set(field.name, plan).set(field.jsonName, plan);
  }
  for (let i = 0; i < fields.length; i++) {
    const plan = fields[i]!;
    const oneof = plan.field.oneof;
    if (oneof === undefined) continue;
    for (let j = 0; j < i; j++) if (fields[j]!.field.oneof === oneof) plan.earlierOneofPeers.push(fields[j]!);
  }
  return { desc, asValue: messageValueType(desc), byKey, fields };
}

/** The type of a field's value: the field itself, or its list items or map values. */
export function valueTypeOf(field: DescField): ValueType {
  switch (field.fieldKind) {
    case 'scalar':
      return { kind: 'scalar', scalar: field.scalar };
    case 'enum':
      return { kind: 'enum', enum: field.enum };
    case 'message':
      return messageValueType(field.message);
    case 'list':
      if (field.listKind === 'scalar') return { kind: 'scalar', scalar: field.scalar };
      return field.listKind === 'enum' ? { kind: 'enum', enum: field.enum } : messageValueType(field.message);
    case 'map':
      if (field.mapKind === 'scalar') return { kind: 'scalar', scalar: field.scalar };
      return field.mapKind === 'enum' ? { kind: 'enum', enum: field.enum } : messageValueType(field.message);
  }
}

const wellKnownKinds: Record<string, ValueType['kind']> = {
  'google.protobuf.Timestamp': 'timestamp',
  'google.protobuf.Duration': 'duration',
  'google.protobuf.FieldMask': 'fieldMask',
  'google.protobuf.Struct': 'struct',
  'google.protobuf.Value': 'value',
  'google.protobuf.ListValue': 'listValue',
  'google.protobuf.Any': 'any',
};

const wrapperNames = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

function messageValueType(desc: DescMessage): ValueType {
  const kind = Object.hasOwn(wellKnownKinds, desc.typeName) ? wellKnownKinds[desc.typeName] : undefined;
  if (kind !== undefined) return { kind } as ValueType;
  const wrapped = desc.fields[0];
  if (wrapperNames.has(desc.typeName) && wrapped?.fieldKind === 'scalar') return { kind: 'scalar', scalar: wrapped.scalar };
  return { kind: 'message', message: desc };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOwnKeys(value: Record<string, unknown>): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

function ownValue(json: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(json, key) ? json[key] : undefined;
}

/** The client's own value, JSON-quoted and cut short. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

function enter(ctx: Context, name: string | number, kind: PathKind): void {
  ctx.names.push(name);
  ctx.kinds.push(kind);
}

function leave(ctx: Context): void {
  ctx.names.pop();
  ctx.kinds.pop();
}

function report(ctx: Context, description: string): void {
  const violations = (ctx.violations ??= []);
  if (violations.length < maxListedViolations) violations.push({ field: formatPath(ctx.names, ctx.kinds), description });
  else ctx.unlisted++;
}

function reportAt(ctx: Context, name: string, description: string, kind = PathKind.Field): void {
  enter(ctx, name, kind);
  report(ctx, description);
  leave(ctx);
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

function formatPath(names: readonly (string | number)[], kinds: readonly PathKind[]): string {
  let path = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (kinds[i] === PathKind.Index) path += `[${name}]`;
    else if (kinds[i] === PathKind.MapKey || !identifier.test(String(name))) path += `[${JSON.stringify(name)}]`;
    else path += i === 0 ? name : `.${name}`;
  }
  return path;
}
