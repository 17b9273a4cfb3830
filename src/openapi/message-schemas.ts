import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = { [keyword: string]: unknown };

/** What the protos say beyond the descriptors: comments and REQUIRED fields, by full name. */
export interface ProtoAnnotations {
  readonly comments: ReadonlyMap<string, string>;
  readonly requiredFields: ReadonlySet<string>;
}

export const componentRef = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** JSON writes 64-bit integers as strings so that no precision is lost; input accepts both. */
const int64 = { type: 'string', format: 'int64', pattern: '^-?[0-9]+$' };
const uint64 = { type: 'string', format: 'uint64', pattern: '^[0-9]+$' };
const uint32 = { type: 'integer', format: 'int64', minimum: 0, maximum: 4294967295 };

const scalars: Record<ScalarType, JsonSchema> = {
  [ScalarType.DOUBLE]: { type: 'number', format: 'double' },
  [ScalarType.FLOAT]: { type: 'number', format: 'float' },
  [ScalarType.INT64]: int64,
  [ScalarType.SINT64]: int64,
  [ScalarType.SFIXED64]: int64,
  [ScalarType.UINT64]: uint64,
  [ScalarType.FIXED64]: uint64,
  [ScalarType.INT32]: { type: 'integer', format: 'int32' },
  [ScalarType.SINT32]: { type: 'integer', format: 'int32' },
  [ScalarType.SFIXED32]: { type: 'integer', format: 'int32' },
  [ScalarType.UINT32]: uint32,
  [ScalarType.FIXED32]: uint32,
  [ScalarType.BOOL]: { type: 'boolean' },
  [ScalarType.STRING]: { type: 'string' },
  [ScalarType.BYTES]: { type: 'string', format: 'byte', contentEncoding: 'base64' },
};

function scalarSchema(scalar: ScalarType): JsonSchema {
  return { ...scalars[scalar] };
}

/** Wrappers are their scalar in JSON, and null stands for an unset wrapper. */
const wrappers: Record<string, ScalarType> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE,
  'google.protobuf.FloatValue': ScalarType.FLOAT,
  'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.StringValue': ScalarType.STRING,
  'google.protobuf.BytesValue': ScalarType.BYTES,
};

function nullable(scalar: ScalarType): JsonSchema {
  const schema = scalarSchema(scalar);
  return { ...schema, type: [schema['type'], 'null'] };
}

/** The well-known types have a special proto3 JSON form instead of an object of their fields. */
const wellKnown: Record<string, () => JsonSchema> = {
  'google.protobuf.Timestamp': () => ({ type: 'string', format: 'date-time' }),
  'google.protobuf.Duration': () => ({ type: 'string', pattern: '^-?[0-9]+(\\.[0-9]+)?s$', examples: ['1.5s'] }),
  'google.protobuf.FieldMask': () => ({ type: 'string', description: 'Comma-separated field paths in lowerCamelCase.' }),
  'google.protobuf.Struct': () => ({ type: 'object', additionalProperties: true }),
  'google.protobuf.Value': () => ({}),
  'google.protobuf.ListValue': () => ({ type: 'array', items: {} }),
  'google.protobuf.Empty': () => ({ type: 'object' }),
  'google.protobuf.Any': () => ({
    type: 'object',
    properties: { '@type': { type: 'string', description: 'Type URL of the packed message.' } },
    required: ['@type'],
    additionalProperties: true,
  }),
  ...Object.fromEntries(Object.entries(wrappers).map(([name, scalar]) => [name, () => nullable(scalar)])),
};

/**
 * Turns protobuf descriptors into proto3 JSON schemas. Messages and enums become named
 * components ("acme.v1.Thing") referenced with $ref, which also terminates recursive
 * messages; well-known types are inlined in their JSON form.
 */
export class MessageSchemas {
  readonly components: Record<string, JsonSchema> = {};

  constructor(private readonly annotations: ProtoAnnotations) {}

  comment(fullName: string): string | undefined {
    return this.annotations.comments.get(fullName);
  }

  /** Whether the field is marked google.api.field_behavior = REQUIRED. */
  isRequired(field: DescField): boolean {
    return this.annotations.requiredFields.has(fieldName(field));
  }

  /** The schema of a message's JSON form. */
  message(desc: DescMessage): JsonSchema {
    const special = wellKnown[desc.typeName];
    if (special) return special();
    if (!Object.hasOwn(this.components, desc.typeName)) {
      // Registered before its fields are visited, so a field referring back to it stops here.
      this.components[desc.typeName] = {};
      this.components[desc.typeName] = this.#objectSchema(desc);
    }
    return componentRef(desc.typeName);
  }

  /** The schema of a field's JSON value (its element type, array or map), with its comment. */
  field(field: DescField): JsonSchema {
    const schema = this.#value(field);
    const description = this.annotations.comments.get(fieldName(field));
    return description === undefined ? schema : { ...schema, description };
  }

  /** The schema of one value of the field's type, ignoring `repeated` and maps. */
  element(field: DescField): JsonSchema {
    switch (field.fieldKind) {
      case 'scalar':
        return scalarSchema(field.scalar);
      case 'enum':
        return this.enum(field.enum);
      case 'message':
        return this.message(field.message);
      case 'list':
      case 'map':
        if (field.message) return this.message(field.message);
        if (field.enum) return this.enum(field.enum);
        return scalarSchema(field.scalar);
    }
  }

  /** As element(), for a value sent in the URL: a wrapper is its bare scalar there, as a URL cannot say null. */
  urlElement(field: DescField): JsonSchema {
    const wrapped = field.message && wrappers[field.message.typeName];
    return wrapped === undefined ? this.element(field) : scalarSchema(wrapped);
  }

  enum(desc: DescEnum): JsonSchema {
    if (desc.typeName === 'google.protobuf.NullValue') return { type: 'null' };
    if (!Object.hasOwn(this.components, desc.typeName)) {
      const description = this.annotations.comments.get(desc.typeName);
      this.components[desc.typeName] = {
        type: 'string',
        enum: desc.values.map((v) => v.name),
        ...(description !== undefined && { description }),
      };
    }
    return componentRef(desc.typeName);
  }

  #value(field: DescField): JsonSchema {
    if (field.fieldKind === 'list') return { type: 'array', items: this.element(field) };
    if (field.fieldKind === 'map') return { type: 'object', additionalProperties: this.element(field) };
    return this.element(field);
  }

  #objectSchema(desc: DescMessage): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const field of desc.fields) {
      properties[field.jsonName] = this.field(field);
      if (this.isRequired(field)) required.push(field.jsonName);
    }
    const description = this.annotations.comments.get(desc.typeName);
    return {
      type: 'object',
      ...(description !== undefined && { description }),
      properties,
      ...(required.length > 0 && { required }),
    };
  }
}

/** "pkg.Msg.field_name", the key of comments and requiredFields. */
export function fieldName(field: DescField): string {
  return `${field.parent.typeName}.${field.name}`;
}
