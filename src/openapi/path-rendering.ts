import type { DescField, DescMessage } from '@bufbuild/protobuf';
import type { PathTemplate, TemplateSegment, VariableCapture } from '../transcoding/path-template.js';
import { fieldName, type JsonSchema, type MessageSchemas } from './message-schemas.js';

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  description?: string;
  /** One of schema and content: content when the value is JSON text. */
  schema?: JsonSchema;
  content?: Record<string, { schema: JsonSchema }>;
  style?: 'form' | 'deepObject';
  explode?: boolean;
}

export interface RenderedPath {
  /** OpenAPI path template, e.g. "/v1/{name}:cancel". */
  readonly path: string;
  readonly parameters: readonly OpenApiParameter[];
}

// How a google.api.http template becomes an OpenAPI path (verbs stay as ":verb" text):
//  - compact: one parameter per variable, named by its field path ("{name=shelves/*}" →
//    "{name}", "{a.b}" → "{a.b}"), its pattern given as a regex and in the description;
//  - expanded: a variable's literal segments are written into the path and each of its
//    wildcards is a parameter of its own ("{name=shelves/*}" → "shelves/{name_1}"). Used when
//    compact paths of different bindings collide (AIP-style "{name=shelves/*}" and
//    "{name=shelves/*/books/*}" are both "/{name}"), which OpenAPI cannot express.
// Wildcards outside any variable are parameters too ("wildcard_1"), though no field gets
// their value; "**" stands for any rest of the path, "/" included and sent unescaped.
export type PathForm = 'compact' | 'expanded';

export function renderPath(template: PathTemplate, input: DescMessage, schemas: MessageSchemas, form: PathForm): RenderedPath {
  const parts: string[] = [];
  const parameters: OpenApiParameter[] = [];
  let anonymous = 0;
  const wildcard = (segment: TemplateSegment): string => {
    const name = `wildcard_${++anonymous}`;
    parameters.push({ name, in: 'path', required: true, description: `${matches(segment)}; no request field receives it.`, schema: { type: 'string' } });
    return `{${name}}`;
  };

  for (let i = 0; i < template.segments.length; ) {
    const capture = template.captures.find((c) => c.start === i);
    if (!capture) {
      const segment = template.segments[i]!;
      parts.push(segment.kind === 'literal' ? segment.value : wildcard(segment));
      i++;
      continue;
    }
    const field = fieldAt(input, capture.fieldPath);
    const comment = field && schemas.comment(fieldName(field));
    const covered = template.segments.slice(capture.start, capture.end);
    if (form === 'compact' || isPlainVariable(covered)) {
      parts.push(`{${capture.key}}`);
      parameters.push(variableParameter(capture, covered, field, comment, schemas));
    } else {
      let part = 0;
      for (const segment of covered) {
        if (segment.kind === 'literal') {
          parts.push(segment.value);
          continue;
        }
        const name = `${capture.key}_${++part}`;
        parts.push(`{${name}}`);
        const role = `Wildcard ${part} of \`${capture.key}=${patternText(covered)}\`: ${matches(segment).toLowerCase()}.`;
        parameters.push({ name, in: 'path', required: true, description: joinText(comment, role), schema: { type: 'string' } });
      }
    }
    i = capture.end;
  }
  const verb = template.verb === undefined ? '' : `:${template.verb}`;
  return { path: `/${parts.join('/')}${verb}`, parameters };
}

/** "{x}" or "{x=*}": the value is one segment and the field's own schema applies. */
function isPlainVariable(covered: readonly TemplateSegment[]): boolean {
  return covered.length === 1 && covered[0]!.kind === 'star';
}

function variableParameter(
  capture: VariableCapture,
  covered: readonly TemplateSegment[],
  field: DescField | undefined,
  comment: string | undefined,
  schemas: MessageSchemas,
): OpenApiParameter {
  const parameter = { name: capture.key, in: 'path' as const, required: true };
  if (isPlainVariable(covered)) {
    const schema = field ? schemas.urlElement(field) : { type: 'string' };
    return { ...parameter, ...(comment !== undefined && { description: comment }), schema };
  }
  const note = capture.multiSegment
    ? `Matches \`${patternText(covered)}\`; the value spans several path segments, whose "/" separators are sent unescaped.`
    : `Matches \`${patternText(covered)}\`.`;
  return { ...parameter, description: joinText(comment, note), schema: { type: 'string', pattern: patternRegex(covered) } };
}

function matches(segment: TemplateSegment): string {
  return segment.kind === 'double-star' ? 'Any rest of the path, "/" included and unescaped' : 'One path segment';
}

function patternText(segments: readonly TemplateSegment[]): string {
  return segments.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'star' ? '*' : '**')).join('/');
}

function patternRegex(segments: readonly TemplateSegment[]): string {
  const parts = segments.map((s) => (s.kind === 'literal' ? s.value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : s.kind === 'star' ? '[^/]+' : '.*'));
  return `^${parts.join('/')}$`;
}

function joinText(...texts: (string | undefined)[]): string {
  return texts.filter((t) => t !== undefined && t !== '').join('\n\n');
}

/** The field a dotted path names in `message`, or undefined (the route table already checked it). */
export function fieldAt(message: DescMessage, path: readonly string[]): DescField | undefined {
  let current: DescMessage | undefined = message;
  let field: DescField | undefined;
  for (const name of path) {
    field = current?.fields.find((f) => f.name === name);
    if (!field) return undefined;
    current = field.fieldKind === 'message' ? field.message : undefined;
  }
  return field;
}
