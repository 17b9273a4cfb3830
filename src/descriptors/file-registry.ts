import { create, createFileRegistry, type DescFile, type FileRegistry } from '@bufbuild/protobuf';
import {
  DescriptorProtoSchema,
  EnumDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as FieldType,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  MethodDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import protobuf from 'protobufjs';
import { ProtoLoadError, type ProtoSources } from './proto-files.js';

/*
 * protobufjs parses .proto text at runtime but its JSON is not proto3 JSON, and its own
 * descriptor export drops dependencies and json_name. @bufbuild/protobuf has the conformant
 * JSON mapping but no .proto parser. So the parsed reflection tree is translated here into
 * google.protobuf.FileDescriptorProto messages, one per file, and handed to
 * @bufbuild/protobuf as a registry. Well-known types come from @bufbuild/protobuf itself.
 */

// In dependency order: the registry adds files one by one.
const wellKnownFiles: readonly DescFile[] = [
  file_google_protobuf_any,
  file_google_protobuf_source_context,
  file_google_protobuf_type,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
];
const wellKnownFileOfType = new Map<string, DescFile>();
for (const file of wellKnownFiles) {
  for (const msg of file.messages) wellKnownFileOfType.set(msg.typeName, file);
  for (const en of file.enums) wellKnownFileOfType.set(en.typeName, file);
}

const scalarTypes: Record<string, FieldType> = {
  double: FieldType.DOUBLE,
  float: FieldType.FLOAT,
  int64: FieldType.INT64,
  uint64: FieldType.UINT64,
  int32: FieldType.INT32,
  fixed64: FieldType.FIXED64,
  fixed32: FieldType.FIXED32,
  bool: FieldType.BOOL,
  string: FieldType.STRING,
  bytes: FieldType.BYTES,
  uint32: FieldType.UINT32,
  sfixed32: FieldType.SFIXED32,
  sfixed64: FieldType.SFIXED64,
  sint32: FieldType.SINT32,
  sint64: FieldType.SINT64,
};

type Syntax = 'proto2' | 'proto3';

class FileBuilder {
  readonly proto: FileDescriptorProto;
  readonly dependencies = new Set<string>();

  constructor(
    readonly name: string,
    pkg: string,
    readonly syntax: Syntax,
  ) {
    this.proto = create(FileDescriptorProtoSchema, { name, package: pkg, syntax });
  }
}

/** Builds the codec registry for every message, enum and service reachable from `sources`. */
export function buildFileRegistry(sources: ProtoSources): FileRegistry {
  const builders = new Map<string, FileBuilder>();
  const fileOf = (obj: protobuf.ReflectionObject): FileBuilder | undefined => {
    const wkt = wellKnownFileOfType.get(obj.fullName.slice(1));
    if (wkt) return undefined;
    let cursor: protobuf.ReflectionObject | null = obj;
    while (cursor && !cursor.filename) cursor = cursor.parent;
    const fileName = cursor?.filename;
    if (!fileName) throw new ProtoLoadError(`cannot tell which file defines ${obj.fullName}`);
    const importName = sources.importNames.get(fileName) ?? fileName;
    let builder = builders.get(importName);
    if (!builder) {
      const pkg = packageOf(obj);
      builder = new FileBuilder(importName, pkg, syntaxOf(obj));
      builders.set(importName, builder);
    }
    return builder;
  };
  const referenceType = (from: FileBuilder, target: protobuf.ReflectionObject): string => {
    const wkt = wellKnownFileOfType.get(target.fullName.slice(1));
    const depName = wkt ? wkt.proto.name : fileOf(target)?.name;
    if (depName && depName !== from.name) from.dependencies.add(depName);
    return target.fullName;
  };

  const visitNamespace = (ns: protobuf.NamespaceBase): void => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const file = fileOf(nested);
        if (file) file.proto.messageType.push(messageProto(nested, file, referenceType));
      } else if (nested instanceof protobuf.Enum) {
        const file = fileOf(nested);
        if (file) file.proto.enumType.push(enumProto(nested));
      } else if (nested instanceof protobuf.Service) {
        const file = fileOf(nested);
        if (file) file.proto.service.push(serviceProto(nested, file, referenceType));
      } else if (nested instanceof protobuf.Namespace) {
        visitNamespace(nested);
      }
    }
  };
  visitNamespace(sources.root);

  for (const builder of builders.values()) builder.proto.dependency = [...builder.dependencies].sort();
  const ordered = topologicalOrder(builders);
  const set = create(FileDescriptorSetSchema, {
    file: [...wellKnownFiles.map((f) => f.proto), ...ordered.map((b) => b.proto)],
  });
  try {
    return createFileRegistry(set);
  } catch (err) {
    throw new ProtoLoadError(`invalid protos: ${(err as Error).message}`);
  }
}

function packageOf(obj: protobuf.ReflectionObject): string {
  let cursor: protobuf.ReflectionObject | null = obj.parent;
  while (cursor && (cursor instanceof protobuf.Type || cursor instanceof protobuf.Service)) cursor = cursor.parent;
  return cursor && cursor.fullName ? cursor.fullName.slice(1) : '';
}

function syntaxOf(obj: protobuf.ReflectionObject): Syntax {
  let cursor: protobuf.ReflectionObject | null = obj;
  while (cursor) {
    const edition = (cursor as unknown as { _edition?: string | null })._edition;
    if (edition === 'proto2' || edition === 'proto3') return edition;
    if (edition) throw new ProtoLoadError(`${obj.fullName}: protobuf editions (${edition}) are not supported; use proto3`);
    cursor = cursor.parent;
  }
  return 'proto3';
}

type ReferenceType = (from: FileBuilder, target: protobuf.ReflectionObject) => string;

function messageProto(type: protobuf.Type, file: FileBuilder, ref: ReferenceType): DescriptorProto {
  const msg = create(DescriptorProtoSchema, { name: type.name });
  // protoc lists real oneofs first and the synthetic ones of proto3 `optional` fields last.
  const realOneofs = type.oneofsArray.filter((o) => !isSyntheticOneof(o));
  const syntheticOneofs = type.oneofsArray.filter(isSyntheticOneof);
  const oneofs = [...realOneofs, ...syntheticOneofs];
  msg.oneofDecl = oneofs.map((o) => ({ $typeName: 'google.protobuf.OneofDescriptorProto', name: o.name }));

  for (const field of type.fieldsArray) {
    const fieldProto = fieldProtoOf(field, file, ref);
    if (field.partOf) fieldProto.oneofIndex = oneofs.indexOf(field.partOf);
    if (field instanceof protobuf.MapField) {
      const entryName = `${pascalCase(field.name)}Entry`;
      msg.nestedType.push(mapEntryProto(entryName, field, file, ref));
      fieldProto.type = FieldType.MESSAGE;
      fieldProto.typeName = `${type.fullName}.${entryName}`;
      fieldProto.label = Label.REPEATED;
    }
    msg.field.push(fieldProto);
  }
  for (const nested of type.nestedArray) {
    if (nested instanceof protobuf.Type) msg.nestedType.push(messageProto(nested, file, ref));
    else if (nested instanceof protobuf.Enum) msg.enumType.push(enumProto(nested));
  }
  return msg;
}

function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0]?.options?.['proto3_optional'] === true;
}

function fieldProtoOf(field: protobuf.Field, file: FileBuilder, ref: ReferenceType): FieldDescriptorProto {
  const proto = create(FieldDescriptorProtoSchema, { name: field.name, number: field.id });
  proto.label = field.repeated ? Label.REPEATED : field.required ? Label.REQUIRED : Label.OPTIONAL;
  const scalar = scalarTypes[field.type];
  if (scalar !== undefined) {
    proto.type = scalar;
  } else if (field.resolvedType instanceof protobuf.Enum) {
    proto.type = FieldType.ENUM;
    proto.typeName = ref(file, field.resolvedType);
  } else if (field.resolvedType instanceof protobuf.Type) {
    if ((field.resolvedType as { group?: boolean }).group) throw new ProtoLoadError(`${field.fullName}: groups are not supported`);
    proto.type = FieldType.MESSAGE;
    proto.typeName = ref(file, field.resolvedType);
  } else {
    throw new ProtoLoadError(`${field.fullName}: unresolved type ${field.type}`);
  }
  const options = field.options ?? {};
  proto.jsonName = typeof options['json_name'] === 'string' ? options['json_name'] : jsonNameOf(field.name);
  if (options['proto3_optional'] === true) proto.proto3Optional = true;
  if (file.syntax === 'proto2' && options['default'] !== undefined) proto.defaultValue = String(options['default']);
  if (typeof options['packed'] === 'boolean') proto.options = { $typeName: 'google.protobuf.FieldOptions', packed: options['packed'] } as FieldDescriptorProto['options'];
  return proto;
}

function mapEntryProto(name: string, field: protobuf.MapField, file: FileBuilder, ref: ReferenceType): DescriptorProto {
  const key = create(FieldDescriptorProtoSchema, { name: 'key', number: 1, label: Label.OPTIONAL, jsonName: 'key' });
  const keyType = scalarTypes[field.keyType];
  if (keyType === undefined) throw new ProtoLoadError(`${field.fullName}: invalid map key type ${field.keyType}`);
  key.type = keyType;
  const valueSource = new protobuf.Field('value', 2, field.type);
  Object.assign(valueSource, { resolvedType: field.resolvedType, parent: field.parent });
  const value = fieldProtoOf(valueSource, file, ref);
  value.jsonName = 'value';
  return create(DescriptorProtoSchema, {
    name,
    field: [key, value],
    options: { mapEntry: true },
  });
}

function enumProto(en: protobuf.Enum): EnumDescriptorProto {
  return create(EnumDescriptorProtoSchema, {
    name: en.name,
    value: Object.entries(en.values).map(([name, number]) => ({ name, number })),
    options: en.options?.['allow_alias'] === true ? { allowAlias: true } : undefined,
  });
}

function serviceProto(service: protobuf.Service, file: FileBuilder, ref: ReferenceType) {
  return create(ServiceDescriptorProtoSchema, {
    name: service.name,
    method: service.methodsArray.map((method) => {
      method.resolve();
      if (!method.resolvedRequestType || !method.resolvedResponseType) {
        throw new ProtoLoadError(`${method.fullName}: unresolved request or response type`);
      }
      return create(MethodDescriptorProtoSchema, {
        name: method.name,
        inputType: ref(file, method.resolvedRequestType),
        outputType: ref(file, method.resolvedResponseType),
        clientStreaming: method.requestStream === true,
        serverStreaming: method.responseStream === true,
      });
    }),
  });
}

/** protoc's default json_name: underscores dropped, the letter after each one capitalised. */
function jsonNameOf(protoName: string): string {
  return protoName.replace(/_+(.)?/g, (_match, next: string | undefined) => (next ? next.toUpperCase() : ''));
}

function pascalCase(name: string): string {
  return name
    .split('_')
    .map((part) => (part ? part[0]!.toUpperCase() + part.slice(1) : ''))
    .join('');
}

function topologicalOrder(builders: ReadonlyMap<string, FileBuilder>): FileBuilder[] {
  const ordered: FileBuilder[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (builder: FileBuilder, trail: string[]): void => {
    const seen = state.get(builder.name);
    if (seen === 'done') return;
    if (seen === 'visiting') throw new ProtoLoadError(`import cycle: ${[...trail, builder.name].join(' -> ')}`);
    state.set(builder.name, 'visiting');
    for (const dep of builder.dependencies) {
      const depBuilder = builders.get(dep);
      if (depBuilder) visit(depBuilder, [...trail, builder.name]);
    }
    state.set(builder.name, 'done');
    ordered.push(builder);
  };
  for (const builder of builders.values()) visit(builder, []);
  return ordered;
}
