import { ScalarType, toJson, type DescEnum, type DescField, type DescMessage, type JsonValue, type Message, type Registry } from '@bufbuild/protobuf';
import { scalarZeroValue } from '@bufbuild/protobuf/reflect';
import { Edition, FeatureSet_FieldPresence as Presence, isWrapperDesc } from '@bufbuild/protobuf/wkt';
import { shortestFloat32 } from './float32-output.js';
import { durationJson, setOwn, structFieldJson, timestampJson } from './json-wkt.js';

/*
 * proto3 JSON compiled once per message type. Responses used to go through float32Rewriter and
 * @bufbuild/protobuf's toJsonString, which is conformance-tested but reflection-based: it
 * re-decides per field of every response what the descriptor already said, and formats
 * timestamps through Date. This writer decides at compile time, builds the same plain JSON tree
 * (floats in their shortest float32 form, without mutating the message) with one generated
 * function per message type, and leaves escaping and concatenation to one JSON.stringify,
 * which beats string building in JS. It must print exactly what that pipeline prints:
 * test/transcoding/json-writer.test.ts checks it against the pipeline on random messages.
 * Shapes it does not cover get no writer, and the caller keeps the pipeline.
 */

/** The proto3 JSON of a message, as toJsonString(desc, m, { alwaysEmitImplicit: true, registry }). */
export type JsonWriter = (message: Message) => string;

type Fields = Record<string, unknown>;
type ValueWriter = (value: unknown) => unknown;

const compilers = new WeakMap<object, Compiler>();
const withoutRegistry = {};

/** The writer for messages of `desc`, or undefined when their JSON needs the bufbuild pipeline. */
export function compileJsonWriter(desc: DescMessage, registry?: Registry): JsonWriter | undefined {
  const key = registry ?? withoutRegistry;
  let compiler = compilers.get(key);
  if (!compiler) compilers.set(key, (compiler = new Compiler(registry)));
  return compiler.jsonWriter(desc);
}

class Compiler {
  private readonly jsonWriters = new WeakMap<DescMessage, JsonWriter | null>();
  private readonly writers = new WeakMap<DescMessage, ValueWriter>();
  /** Messages that registry extensions extend: toJson writes those extensions from unknown fields. */
  private readonly extended = new Set<DescMessage>();

  constructor(private readonly registry: Registry | undefined) {
    for (const type of registry ?? []) if (type.kind === 'extension') this.extended.add(type.extendee);
  }

  jsonWriter(desc: DescMessage): JsonWriter | undefined {
    let writer = this.jsonWriters.get(desc);
    if (writer === undefined) {
      const write = this.supports(desc, new Set()) ? (this.writers.get(desc) ?? this.compile(desc)) : undefined;
      writer = write ? (message) => JSON.stringify(write(message)) : null;
      this.jsonWriters.set(desc, writer);
    }
    return writer ?? undefined;
  }

  /** Whether every message type reachable from `desc` is one this writer prints like toJson. */
  private supports(desc: DescMessage, seen: Set<DescMessage>): boolean {
    if (seen.has(desc) || customJson(desc)) return true;
    seen.add(desc);
    if (this.extended.has(desc)) return false;
    const keys = new Set<string>();
    for (const field of desc.fields) {
      // As a literal key "__proto__" sets the prototype; a repeated key would lose a value.
      if (field.jsonName === '__proto__' || keys.has(field.jsonName) || rewriterGivesPresence(field)) return false;
      keys.add(field.jsonName);
      const message = field.message;
      if (message && !this.supports(message, seen)) return false;
    }
    return true;
  }

  private compile(desc: DescMessage): ValueWriter {
    const custom = this.wellKnown(desc);
    if (custom) {
      // Every well-known type with its own JSON form has fields.
      const write = ofType(desc, desc.fields[0]!, custom);
      this.writers.set(desc, write);
      return write;
    }
    // Recursive types reach the writer through this until it exists.
    let compiled: ValueWriter | undefined;
    this.writers.set(desc, (message) => compiled!(message));
    compiled = this.generate(desc);
    this.writers.set(desc, compiled);
    return compiled;
  }

  /**
   * One function per message type returning its JSON object as a literal, so every property
   * access is a fixed one (closures per field made each a megamorphic lookup, and cost twice
   * as much). Names enter the source only as JSON string literals. Every key is present, in
   * field number order as bufbuild writes them; unset ones are undefined, which JSON.stringify
   * skips.
   */
  private generate(desc: DescMessage): ValueWriter {
    const sorted = desc.fields.concat().sort((a, b) => a.number - b.number);
    const writers = sorted.map((field) => this.valueWriter(field));
    const properties = sorted.map((field, i) => {
      const call = (value: string) => (writers[i] === same ? value : `w[${i}](${value})`);
      return `${JSON.stringify(field.jsonName)}: ${valueSource(field, i, call)}`;
    });
    const typeCheck = sorted.length > 0 ? `if (m.$typeName !== ${JSON.stringify(desc.typeName)}) throw foreign(m);` : '';
    const source = `return function (m) { ${typeCheck} return { ${properties.join(', ')} }; };`;
    const foreign = (message: unknown) => foreignError(sorted[0]!, message);
    const missing = (i: number) => {
      throw new Error(`cannot encode ${sorted[i]} to JSON: required field not set`);
    };
    return new Function('w', 'foreign', 'missing', 'hasOwn', source)(writers, foreign, missing, Object.hasOwn) as ValueWriter;
  }

  private wellKnown(desc: DescMessage): ValueWriter | undefined {
    switch (desc.typeName) {
      case 'google.protobuf.Timestamp':
        return timestampJson;
      case 'google.protobuf.Duration':
        return durationJson;
      case 'google.protobuf.Any': {
        // Rare and registry-driven: bufbuild's own conversion.
        const options = { alwaysEmitImplicit: true, registry: this.registry };
        return (message) => toJson(desc, message as Message, options);
      }
      case 'google.protobuf.FieldMask':
      case 'google.protobuf.Struct':
      case 'google.protobuf.Value':
      case 'google.protobuf.ListValue':
        return (message) => toJson(desc, message as Message);
    }
    if (!isWrapperDesc(desc)) return undefined;
    const field = desc.fields[0];
    const zero = scalarZeroValue(field.scalar, false);
    const write = scalarWriter(field.scalar);
    return (message) => {
      const value = (message as Fields)[field.localName];
      return write(value === undefined ? zero : value);
    };
  }

  private valueWriter(field: DescField): ValueWriter {
    switch (field.fieldKind) {
      case 'scalar':
        return scalarWriter(field.scalar);
      case 'enum':
        return enumWriter(field.enum);
      case 'message':
        return this.messageWriter(field, field.message);
      case 'list': {
        const item = field.listKind === 'scalar' ? scalarWriter(field.scalar) : field.listKind === 'enum' ? enumWriter(field.enum) : this.messageWriter(field, field.message);
        // The list itself when its items are their own JSON; JSON.stringify does not change it.
        return item === same ? same : (value) => (value as readonly unknown[]).map((v) => item(v));
      }
      case 'map': {
        const item = field.mapKind === 'scalar' ? scalarWriter(field.scalar) : field.mapKind === 'enum' ? enumWriter(field.enum) : this.messageWriter(field, field.message);
        if (item === same) return same;
        return (value) => {
          const map = value as Fields;
          const json: Fields = {};
          for (const key of Object.keys(map)) setOwn(json, key, item(map[key]));
          return json;
        };
      }
    }
  }

  /** Message values as bufbuild stores them in fields (see localMessageMapper in its reflect/message.js). */
  private messageWriter(field: DescField, desc: DescMessage): ValueWriter {
    if (desc.typeName === 'google.protobuf.Struct' && field.parent.typeName !== 'google.protobuf.Value') return structFieldJson;
    // Singular wrapper fields outside a oneof hold the bare value (and are not written when unset).
    if (field.fieldKind === 'message' && !field.oneof && isWrapperDesc(desc)) return scalarWriter(desc.fields[0].scalar);
    return this.writers.get(desc) ?? this.compile(desc);
  }
}

/** The source of field i's JSON value in the generated writer of its message (`m`). */
function valueSource(field: DescField, i: number, call: (value: string) => string): string {
  const local = `m[${JSON.stringify(field.localName)}]`;
  if (field.oneof) {
    const oneof = `m[${JSON.stringify(field.oneof.localName)}]`;
    return `${oneof}.case === ${JSON.stringify(field.localName)} ? ${call(`${oneof}.value`)} : undefined`;
  }
  if (field.fieldKind === 'list' || field.fieldKind === 'map' || field.presence === Presence.IMPLICIT) return call(local);
  // Outside proto3, create() keeps scalar defaults on the prototype: only own values are set.
  const ownOnly = field.fieldKind !== 'message' && field.parent.file.edition !== Edition.EDITION_PROTO3;
  const present = ownOnly ? `${local} !== undefined && hasOwn(m, ${JSON.stringify(field.localName)})` : `${local} !== undefined`;
  return `${present} ? ${call(local)} : ${field.presence === Presence.LEGACY_REQUIRED ? `missing(${i})` : 'undefined'}`;
}

/** `write`, refusing a message of another type as toJson does. */
function ofType(desc: DescMessage, first: DescField, write: ValueWriter): ValueWriter {
  const typeName = desc.typeName;
  return (message) => {
    if ((message as Message).$typeName !== typeName) throw foreignError(first, message);
    return write(message);
  };
}

function foreignError(first: DescField, message: unknown): Error {
  return new Error(`cannot use ${first} with message ${(message as Message).$typeName}`);
}

/** Well-known types with their own JSON form: no user message type is reached through them. */
function customJson(desc: DescMessage): boolean {
  switch (desc.typeName) {
    case 'google.protobuf.Any':
    case 'google.protobuf.Timestamp':
    case 'google.protobuf.Duration':
    case 'google.protobuf.FieldMask':
    case 'google.protobuf.Struct':
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue':
      return true;
    default:
      return isWrapperDesc(desc);
  }
}

/**
 * float32Rewriter assigns every float it finds, and outside proto3 an unset optional float
 * inherits its default from the prototype: the assignment makes it an own value that toJson
 * then prints. Such messages are left to that pipeline rather than imitated.
 */
function rewriterGivesPresence(field: DescField): boolean {
  return (
    field.fieldKind === 'scalar' &&
    field.scalar === ScalarType.FLOAT &&
    !field.oneof &&
    field.presence !== Presence.IMPLICIT &&
    field.parent.file.edition !== Edition.EDITION_PROTO3
  );
}

/** Strings, bools and 32-bit integers are their own JSON value. */
const same: ValueWriter = (value) => value;

function scalarWriter(type: ScalarType): ValueWriter {
  switch (type) {
    case ScalarType.DOUBLE:
      return doubleJson;
    case ScalarType.FLOAT:
      return (value) => doubleJson(shortestFloat32(value as number));
    case ScalarType.INT64:
    case ScalarType.UINT64:
    case ScalarType.SINT64:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return String;
    case ScalarType.BYTES:
      return (value) => {
        const bytes = value as Uint8Array;
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
      };
    default:
      return same;
  }
}

function doubleJson(value: unknown): JsonValue {
  const number = value as number;
  if (Number.isFinite(number)) return number;
  return Number.isNaN(number) ? 'NaN' : number > 0 ? 'Infinity' : '-Infinity';
}

function enumWriter(desc: DescEnum): ValueWriter {
  if (desc.typeName === 'google.protobuf.NullValue') return () => null;
  // desc.value[n] is the value bufbuild names n by (the first, with aliases).
  const names = new Map(desc.values.map((v) => [v.number, desc.value[v.number]!.jsonName]));
  // Numbers outside the enum (open enums keep them) are written as numbers.
  return (value) => names.get(value as number) ?? value;
}
