import { parse as parseQuery } from 'node:querystring';
import Type, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import type { FieldViolation } from '../transcoding/field-violations.js';
import type { RouteSchemas } from './acl-route.js';

type Part = keyof RouteSchemas;

/** What a request part is called when it has a property the schema does not list. */
const unknownProperty: Record<Part, string> = {
  params: 'unknown path parameter',
  querystring: 'unknown query parameter',
  body: 'unknown field',
};

/** The validated input of a route module, or every violation found. */
export type ModuleInput = { ok: true; params: unknown; query: unknown; body: unknown } | { ok: false; violations: FieldViolation[] };

interface PartValidator {
  /** Defaults filled in and, for text from the URL, strings converted to the schema's types. */
  prepare(value: unknown): unknown;
  check(value: unknown): boolean;
  violations(value: unknown): FieldViolation[];
}

/**
 * Validates a route module's path parameters, query and body against its TypeBox schemas,
 * compiled once per route. The violations use the declarative bindings' words ("unknown query
 * parameter", "required field is missing", "expected an integer"), and a pattern is reported
 * with the property's description, never as a regex.
 */
export function compileModuleInput(schemas: RouteSchemas): (params: ReadonlyMap<string, string>, rawQuery: string, body: unknown) => ModuleInput {
  const params = schemas.params && partValidator(schemas.params, 'params', true);
  // A route that declares no query takes none: any parameter is unknown, as on a binding.
  const query = partValidator(schemas.querystring ?? Type.Object({}), 'querystring', true);
  const body = schemas.body && partValidator(schemas.body, 'body', false);
  return (pathParams, rawQuery, rawBody) => {
    const violations: FieldViolation[] = [];
    const run = (validator: PartValidator | undefined, raw: unknown): unknown => {
      if (!validator) return undefined;
      const value = validator.prepare(raw);
      if (!validator.check(value)) violations.push(...validator.violations(value));
      return value;
    };
    const input = {
      params: run(params, Object.fromEntries(pathParams)),
      query: run(query, rawQuery === '' ? {} : { ...parseQuery(rawQuery) }),
      body: run(body, rawBody),
    };
    return violations.length > 0 ? { ok: false, violations } : { ok: true, ...input };
  };
}

function partValidator(schema: TSchema, part: Part, fromUrl: boolean): PartValidator {
  const validator = Compile(closed(schema));
  const descriptions = propertyDescriptions(schema);
  const types = fromUrl ? propertyTypes(schema) : undefined;
  return {
    prepare: (value) => {
      const withDefaults = validator.Default(value) as Record<string, unknown>;
      return types ? convertUrlText(withDefaults, types) : withDefaults;
    },
    check: (value) => validator.Check(value),
    violations: (value) => describeErrors(validator.Errors(value), part, descriptions),
  };
}

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

function describeErrors(errors: readonly SchemaError[], part: Part, descriptions: ReadonlyMap<string, string>): FieldViolation[] {
  const unions = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const inUnion = (e: SchemaError): boolean => unions.some((u) => e !== u && e.schemaPath.startsWith(`${u.schemaPath}/`));
  const violations: FieldViolation[] = [];
  for (const error of errors) {
    // TypeBox reports an additional property twice: as `false` schema and as additionalProperties.
    if (error.keyword === 'boolean' || inUnion(error)) continue;
    const field = fieldOf(error.instancePath);
    switch (error.keyword) {
      case 'additionalProperties':
        for (const name of error.params['additionalProperties'] as string[]) violations.push({ field: join(field, name), description: unknownProperty[part] });
        break;
      case 'required':
        for (const name of error.params['requiredProperties'] as string[]) violations.push({ field: join(field, name), description: 'required field is missing' });
        break;
      case 'anyOf':
      case 'oneOf': {
        const allowed = errors.filter((e) => e.schemaPath.startsWith(`${error.schemaPath}/`) && e.keyword === 'const').map((e) => e.params['allowedValue']);
        violations.push({ field, description: allowed.length > 0 ? `must be one of ${allowed.map(String).join(', ')}` : 'has an invalid value' });
        break;
      }
      default:
        violations.push({ field, description: describeKeyword(error, descriptions.get(field)) });
    }
  }
  return violations;
}

function describeKeyword(error: SchemaError, description: string | undefined): string {
  const limit = error.params['limit'];
  switch (error.keyword) {
    case 'type':
      return expectedType(String(error.params['type']));
    case 'minimum':
    case 'exclusiveMinimum':
      return `must be at least ${String(limit)}`;
    case 'maximum':
    case 'exclusiveMaximum':
      return `must be at most ${String(limit)}`;
    case 'minLength':
      return `must be at least ${String(limit)} characters long`;
    case 'maxLength':
      return `must be at most ${String(limit)} characters long`;
    case 'minItems':
      return `must have at least ${String(limit)} items`;
    case 'maxItems':
      return `must have at most ${String(limit)} items`;
    case 'const':
    case 'enum':
      return `must be one of ${[error.params['allowedValue'] ?? error.params['allowedValues']].flat().map(String).join(', ')}`;
    case 'pattern':
    case 'format':
      return description === undefined ? 'has an invalid format' : `has an invalid format (${description.replace(/\.$/, '')})`;
    default:
      return 'has an invalid value';
  }
}

function expectedType(type: string): string {
  switch (type) {
    case 'integer':
      return 'expected an integer';
    case 'number':
      return 'expected a number';
    case 'boolean':
      return 'expected true or false';
    case 'string':
      return 'expected a string';
    case 'array':
      return 'expected an array';
    case 'object':
      return 'expected an object';
    default:
      return `expected ${type}`;
  }
}

/** "/items/0/name" → "items[0].name" */
function fieldOf(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : join(acc, part)), '');
}

function join(base: string, name: string): string {
  return base ? `${base}.${name}` : name;
}

/**
 * Text from the URL as the property's type asks: only exact forms convert ("7" to 7, "true"
 * to true; never "2.5" or "7x" to an integer, as a lenient conversion would), and anything
 * else stays text for the validator to refuse. A repeated parameter of a scalar stays a list.
 */
function convertUrlText(value: Record<string, unknown>, types: ReadonlyMap<string, string>): Record<string, unknown> {
  for (const [name, type] of types) {
    const text = value[name];
    if (typeof text !== 'string') continue;
    if (type === 'integer' && /^-?\d+$/.test(text)) value[name] = Number(text);
    else if (type === 'number' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) value[name] = Number(text);
    else if (type === 'boolean' && (text === 'true' || text === 'false')) value[name] = text === 'true';
  }
  return value;
}

function propertyTypes(schema: TSchema): ReadonlyMap<string, string> {
  const properties = ((schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}) as Record<string, { type?: unknown }>;
  return new Map(Object.entries(properties).flatMap(([name, property]) => (typeof property.type === 'string' ? [[name, property.type] as const] : [])));
}

/**
 * Unknown query parameters and body fields are a 400 on route modules as on declarative
 * bindings: an object schema that does not say otherwise gets additionalProperties: false.
 */
function closed(schema: TSchema): TSchema {
  const isOpenObject = (schema as { type?: unknown }).type === 'object' && !('additionalProperties' in schema);
  return isOpenObject ? ({ ...schema, additionalProperties: false } as TSchema) : schema;
}

/** Top-level property descriptions, to say what a badly formatted value should look like. */
function propertyDescriptions(schema: TSchema): ReadonlyMap<string, string> {
  const properties = ((schema as { properties?: Record<string, { description?: unknown }> }).properties ?? {}) as Record<string, { description?: unknown }>;
  return new Map(
    Object.entries(properties).flatMap(([name, property]) => (typeof property.description === 'string' ? [[name, property.description] as const] : [])),
  );
}
