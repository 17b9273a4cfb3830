import type { RouteEntry } from '../transcoding/route-table.js';
import type { TranscodedRoute } from '../transcoding/route-set.js';
import { fieldName, type MessageSchemas } from './message-schemas.js';
import { OperationIds, responses, security, summaryAndDescription, type Operation } from './operations.js';
import { fieldAt, renderPath, type PathForm, type RenderedPath } from './path-rendering.js';
import { queryParameters } from './query-parameters.js';

export type BindingEntry = RouteEntry<TranscodedRoute>;

export function renderBindingPath(entry: BindingEntry, schemas: MessageSchemas, form: PathForm): RenderedPath {
  return renderPath(entry.template, entry.value.input, schemas, form);
}

/** The operation of one google.api.http binding: operationId <Service>_<Method>, tagged by service. */
export function bindingOperation(entry: BindingEntry, path: RenderedPath, schemas: MessageSchemas, ids: OperationIds): Operation {
  const route = entry.value;
  const method = route.rpc.method;
  const service = method.parent;
  const body = route.body;
  const pathFields = entry.template.variables.map((v) => v.fieldPath.join('.'));
  const parameters = [...path.parameters, ...queryParameters(route.input, { body, pathFields }, schemas)];
  const operation: Operation = {
    operationId: ids.claim(`${service.name}_${method.name}`),
    tags: [service.name],
    ...summaryAndDescription(schemas.comment(`${service.typeName}.${method.name}`)),
    ...(parameters.length > 0 && { parameters }),
    responses: responses(route.responseField ? schemas.field(route.responseField) : schemas.message(route.output), route.streaming),
    ...security(route.auth, route.scopes),
  };
  if (body === '*') {
    operation.requestBody = { required: true, content: { 'application/json': { schema: schemas.message(route.input) } } };
  } else if (body !== undefined) {
    const field = fieldAt(route.input, [body])!;
    const description = schemas.comment(fieldName(field));
    operation.requestBody = {
      ...(description !== undefined && { description }),
      required: true,
      content: { 'application/json': { schema: schemas.field(field) } },
    };
  }
  return operation;
}
