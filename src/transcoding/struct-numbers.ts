import type { DescField, DescMessage } from '@bufbuild/protobuf';

/*
 * parseJsonExact keeps integer literals beyond 2^53 as text so that int64 fields get them
 * exactly; inside google.protobuf.Struct, Value and ListValue, though, a number is a double
 * and text would turn it into a string value. This walks a request's JSON along its message
 * type and gives those literals back as numbers there, only for the rare documents that
 * hold such literals at all. (A string value there that spells the same digits as such a
 * literal elsewhere in the same document becomes a number too: text cannot tell them apart.)
 */

const dynamicTypes = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);

const fieldsByKey = new WeakMap<DescMessage, ReadonlyMap<string, DescField>>();

/** Restores `literals` to numbers wherever `json` (a `desc` message) holds Struct, Value or ListValue data. */
export function restoreStructNumbers(desc: DescMessage, json: unknown, literals: ReadonlySet<string>): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const record = json as Record<string, unknown>;
  const fields = fieldsOf(desc);
  for (const key of Object.keys(record)) {
    const field = fields.get(key);
    const message = field?.message;
    if (!field || !message) continue;
    const convert = dynamicTypes.has(message.typeName)
      ? (value: unknown) => numbersBack(value, literals)
      : (value: unknown) => {
          restoreStructNumbers(message, value, literals);
          return value;
        };
    const value = record[key];
    if (field.fieldKind === 'list' && Array.isArray(value)) record[key] = value.map(convert);
    else if (field.fieldKind === 'map' && typeof value === 'object' && value !== null) {
      const map = value as Record<string, unknown>;
      for (const mapKey of Object.keys(map)) map[mapKey] = convert(map[mapKey]);
    } else record[key] = convert(value);
  }
}

function numbersBack(value: unknown, literals: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return literals.has(value) ? Number(value) : value;
  if (Array.isArray(value)) return value.map((item) => numbersBack(item, literals));
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = numbersBack(record[key], literals);
  }
  return value;
}

function fieldsOf(desc: DescMessage): ReadonlyMap<string, DescField> {
  let fields = fieldsByKey.get(desc);
  if (!fields) {
    const byKey = new Map<string, DescField>();
    for (const field of desc.fields) {
      byKey.set(field.name, field);
      byKey.set(field.jsonName, field);
    }
    fieldsByKey.set(desc, (fields = byKey));
  }
  return fields;
}
