import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { valueTypeOf } from '../transcoding/field-violations.js';
import { fieldName, type JsonSchema, type MessageSchemas } from './message-schemas.js';
import type { OpenApiParameter } from './path-rendering.js';

/** What the binding takes from elsewhere than the query string. */
export interface QueryExclusions {
  /** '*' (nothing is left for the query), a top-level field name, or undefined. */
  readonly body: string | undefined;
  /** Dotted proto paths bound by the path template. */
  readonly pathFields: readonly string[];
}

/**
 * The query parameters of a binding, as request-binding.ts reads them: every field that the
 * path and body leave, by JSON name, fields of singular messages flattened as "a.b", repeated
 * fields as repeated parameters, maps as "labels[key]=value" (deepObject). Repeated and map
 * fields of messages cannot be set from a query string and are left out.
 *
 * Parameters are named by JSON name (lowerCamelCase, "pageSize"), as the fields of a JSON body
 * are and as 400s name them; the binding also takes the proto name ("page_size"), which is
 * not listed again. A REQUIRED field is a required parameter when every message on its way is
 * REQUIRED too: the gateway checks a nested field only once its message is there.
 */
export function queryParameters(input: DescMessage, exclusions: QueryExclusions, schemas: MessageSchemas): OpenApiParameter[] {
  if (exclusions.body === '*') return [];
  const bound = new Set(exclusions.pathFields);
  const parameters: OpenApiParameter[] = [];

  const visit = (message: DescMessage, protoPrefix: string, jsonPrefix: string, ancestors: readonly DescMessage[], parentsRequired: boolean): void => {
    for (const field of message.fields) {
      const protoPath = protoPrefix + field.name;
      const name = jsonPrefix + field.jsonName;
      if (bound.has(protoPath) || (protoPrefix === '' && field.name === exclusions.body)) continue;
      const type = valueTypeOf(field);
      if (type.kind === 'any') continue;
      const required = parentsRequired && schemas.isRequired(field);
      if (type.kind === 'message') {
        // Recursive messages are flattened once: a deeper "a.a.a" is possible but not useful.
        if (field.fieldKind !== 'message' || ancestors.includes(type.message)) continue;
        visit(type.message, `${protoPath}.`, `${name}.`, [...ancestors, type.message], required);
        continue;
      }
      parameters.push(parameter(name, field, schemas.urlElement(field), jsonText.has(type.kind), required, schemas));
    }
  };
  visit(input, '', '', [input], true);
  return parameters;
}

/** Types whose query value is JSON text. */
const jsonText = new Set(['struct', 'value', 'listValue']);

function parameter(name: string, field: DescField, element: JsonSchema, isJsonText: boolean, required: boolean, schemas: MessageSchemas): OpenApiParameter {
  const comment = schemas.comment(fieldName(field));
  const common = { name, in: 'query' as const, ...(required && { required: true }), ...(comment !== undefined && { description: comment }) };
  if (field.fieldKind === 'list') return { ...common, schema: { type: 'array', items: element }, style: 'form', explode: true };
  if (field.fieldKind === 'map') return { ...common, schema: { type: 'object', additionalProperties: element }, style: 'deepObject', explode: true };
  if (isJsonText) return { ...common, content: { 'application/json': { schema: element } } };
  return { ...common, schema: element };
}
