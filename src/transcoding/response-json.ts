import { create, toJsonString, type DescField, type DescMessage, type Message, type Registry } from '@bufbuild/protobuf';
import { isWrapperDesc } from '@bufbuild/protobuf/wkt';
import { float32Rewriter } from './float32-output.js';
import { compileJsonWriter, type JsonWriter } from './json-writer.js';

/**
 * The renderer of a route's responses (unary and streams alike), compiled with the route:
 * proto3 JSON of the upstream response, or of its response_body field.
 */
export function compileResponseRenderer(output: DescMessage, field: DescField | undefined, registry: Registry): JsonWriter {
  if (!field) return messageJsonWriter(output, registry);
  // Wrapper and Struct fields hold bare values in @bufbuild/protobuf messages (a string, a
  // JSON object), not messages: they take the whole-message path below.
  if (field.fieldKind === 'message' && !isWrapperDesc(field.message) && field.message.typeName !== 'google.protobuf.Struct') {
    const sub = field.message;
    const write = messageJsonWriter(sub, registry);
    const name = field.localName;
    return (response) => write(((response as unknown as Record<string, unknown>)[name] ?? create(sub)) as Message);
  }
  // Scalars, enums, lists, maps and bare values: render the whole message and take the member,
  // so the field gets exactly the proto3 JSON form (int64 strings, enum names, [] and {}).
  const whole = messageJsonWriter(output, registry);
  return (response) => JSON.stringify((JSON.parse(whole(response)) as Record<string, unknown>)[field.jsonName] ?? null);
}

/**
 * proto3 JSON of messages of `desc`, zero values included and floats in their shortest
 * float32 form: the compiled writer, or for the shapes it leaves alone, the float rewrite
 * (which mutates the message) and toJsonString.
 */
export function messageJsonWriter(desc: DescMessage, registry?: Registry): JsonWriter {
  const write = compileJsonWriter(desc, registry);
  if (write) return write;
  const rewriteFloats = float32Rewriter(desc);
  const options = { alwaysEmitImplicit: true, registry };
  return (message) => {
    rewriteFloats?.(message as unknown as Record<string, unknown>);
    return toJsonString(desc, message, options);
  };
}
