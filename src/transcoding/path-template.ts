/*
 * google.api.HttpRule path templates (see google/api/http.proto):
 *
 *   Template = "/" Segments [ Verb ] ;
 *   Segments = Segment { "/" Segment } ;
 *   Segment  = "*" | "**" | LITERAL | Variable ;
 *   Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *   FieldPath = IDENT { "." IDENT } ;
 *   Verb     = ":" LITERAL ;
 *
 * Templates are compiled once into a flat segment list; a request path is split and
 * percent-decoded once (parseRequestPath) and can then be checked against many templates
 * with plain string comparisons (matchesRequestPath), which is what the route table does.
 */

export interface PathVariable {
  /** Proto field names, e.g. ['a', 'b', 'c'] for {a.b.c}. */
  readonly fieldPath: readonly string[];
}

export type TemplateSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'star' }
  | { readonly kind: 'double-star' };

/** A variable together with the template segments it spans. */
export interface VariableCapture extends PathVariable {
  /** fieldPath joined with '.', the key in matchPath's result. */
  readonly key: string;
  /** Index of the first template segment the variable covers. */
  readonly start: number;
  /** Index after the last template segment the variable covers. */
  readonly end: number;
  /**
   * Whether the value may span several path segments ({x=a/*}, {x=**}). Such values keep their
   * '/' separators and any %2F escapes as sent; single-segment values are fully decoded.
   */
  readonly multiSegment: boolean;
}

export interface PathTemplate {
  /** As written in the proto, e.g. "/v1/{name=shelves/*}:cancel". */
  readonly text: string;
  readonly verb: string | undefined;
  readonly variables: readonly PathVariable[];
  /** Canonical form for collision detection: variables replaced by their pattern, e.g. "/v1/shelves/*:cancel". */
  readonly shape: string;
  /** The template with variables flattened away; "**" can only be the last one. */
  readonly segments: readonly TemplateSegment[];
  /** The same objects as `variables`, with their positions in `segments`. */
  readonly captures: readonly VariableCapture[];
  readonly endsWithDoubleStar: boolean;
}

/** A request path has an invalid percent-escape or escapes that are not UTF-8: the caller should answer 400. */
export class PathDecodeError extends Error {
  override name = 'PathDecodeError';
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parsePathTemplate(text: string): PathTemplate {
  const fail = (what: string): never => {
    throw new Error(`Invalid path template "${text}": ${what}`);
  };
  if (!text.startsWith('/')) fail('it must start with "/"');

  // Find the verb (a ':' after the last '/', both outside braces) and check the braces, so
  // that the descent below can assume them balanced and unnested.
  let depth = 0;
  let lastSlash = -1;
  let lastColon = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      if (depth > 0) fail(`nested variables at offset ${i}`);
      depth++;
    } else if (c === '}') {
      if (depth === 0) fail(`unbalanced braces: "}" without "{" at offset ${i}`);
      depth--;
    } else if (depth === 0 && c === '/') {
      lastSlash = i;
    } else if (depth === 0 && c === ':') {
      lastColon = i;
    }
  }
  if (depth > 0) fail('unbalanced braces: "{" without "}"');

  let verb: string | undefined;
  let body = text;
  if (lastColon > lastSlash) {
    verb = text.slice(lastColon + 1);
    body = text.slice(0, lastColon);
    if (verb === '') fail('empty verb after ":"');
    if (/[{}*]/.test(verb)) fail(`invalid verb "${verb}"`);
  }

  const segments: TemplateSegment[] = [];
  const captures: VariableCapture[] = [];
  let pos = 1;

  // Parses Segments into `segments`, starting at `pos`; stops before a '}' or the end.
  const parseSegments = (inVariable: boolean): void => {
    for (;;) {
      parseSegment(inVariable);
      const next = body[pos];
      if (next === undefined || (inVariable && next === '}')) return;
      if (next !== '/') fail(`unexpected "${next}" at offset ${pos}`);
      pos++;
    }
  };

  const parseSegment = (inVariable: boolean): void => {
    const c = body[pos];
    if (c === undefined || c === '/' || c === '}') {
      fail(`empty segment at offset ${pos}`);
    } else if (c === '*') {
      const double = body[pos + 1] === '*';
      segments.push({ kind: double ? 'double-star' : 'star' });
      pos += double ? 2 : 1;
    } else if (c === '{') {
      if (inVariable) fail(`nested variables at offset ${pos}`);
      parseVariable();
    } else {
      const start = pos;
      while (pos < body.length && !'/{}*'.includes(body[pos]!)) pos++;
      segments.push({ kind: 'literal', value: body.slice(start, pos) });
    }
  };

  const parseVariable = (): void => {
    const close = body.indexOf('}', pos);
    const eq = body.indexOf('=', pos);
    const pathEnd = eq !== -1 && eq < close ? eq : close;
    const fieldPath = body.slice(pos + 1, pathEnd).split('.');
    if (!fieldPath.every((name) => identifier.test(name))) {
      fail(`invalid field path "${body.slice(pos + 1, pathEnd)}" at offset ${pos + 1}`);
    }
    const start = segments.length;
    if (pathEnd === eq) {
      pos = eq + 1;
      parseSegments(true);
    } else {
      // {x} is short for {x=*}.
      segments.push({ kind: 'star' });
      pos = close;
    }
    pos++; // the '}'
    const end = segments.length;
    const multiSegment = end - start !== 1 || segments[start]?.kind === 'double-star';
    captures.push({ fieldPath, key: fieldPath.join('.'), start, end, multiSegment });
  };

  parseSegments(false);

  const doubleStar = segments.findIndex((s) => s.kind === 'double-star');
  if (doubleStar !== -1 && doubleStar !== segments.length - 1) fail('"**" must be the last segment');
  const keys = new Set<string>();
  for (const { key } of captures) {
    if (keys.has(key)) fail(`duplicate variable "${key}"`);
    keys.add(key);
  }

  const shape =
    '/' +
    segments.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'star' ? '*' : '**')).join('/') +
    (verb === undefined ? '' : `:${verb}`);

  return {
    text,
    verb,
    variables: captures,
    shape,
    segments,
    captures,
    endsWithDoubleStar: doubleStar !== -1,
  };
}

/** A request path split into segments and decoded once, to be matched against any number of templates. */
export interface RequestPath {
  readonly raw: readonly string[];
  readonly decoded: readonly string[];
  /**
   * The verb view, for templates that have a verb: the last segment split at its last ':'
   * (a raw one; %3A is data). Undefined when the last segment has no ':' or nothing before it.
   */
  readonly verb: string | undefined;
  readonly rawBeforeVerb: string;
  readonly decodedBeforeVerb: string;
}

function decodeComponent(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // decodeURIComponent only throws URIError: a malformed escape or bytes that are not UTF-8.
    throw new PathDecodeError(`Invalid percent-encoding in path segment "${raw}"`);
  }
}

/**
 * Splits and decodes a raw (still percent-encoded, query-less) request path. Returns undefined
 * for paths no template can match: not starting with '/', or with an empty segment ('//' or a
 * trailing '/'). Throws PathDecodeError when any segment has a bad escape, whatever the route.
 */
export function parseRequestPath(rawPath: string): RequestPath | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  const raw = rawPath === '/' ? [] : rawPath.slice(1).split('/');
  if (raw.includes('')) return undefined;
  const decoded = raw.map(decodeComponent);

  const last = raw.at(-1) ?? '';
  const colon = last.lastIndexOf(':');
  if (colon <= 0) return { raw, decoded, verb: undefined, rawBeforeVerb: '', decodedBeforeVerb: '' };
  const rawBeforeVerb = last.slice(0, colon);
  return {
    raw,
    decoded,
    verb: decodeComponent(last.slice(colon + 1)),
    rawBeforeVerb,
    decodedBeforeVerb: decodeComponent(rawBeforeVerb),
  };
}

export function matchesRequestPath(template: PathTemplate, path: RequestPath): boolean {
  const verbView = template.verb !== undefined;
  if (verbView && path.verb !== template.verb) return false;
  const { segments } = template;
  const count = path.raw.length;
  // "**" matches zero or more segments, everything else exactly one.
  if (template.endsWithDoubleStar ? count < segments.length - 1 : count !== segments.length) return false;
  const last = count - 1;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind !== 'literal') continue;
    const actual = verbView && i === last ? path.decodedBeforeVerb : path.decoded[i];
    if (segment.value !== actual) return false;
  }
  return true;
}

/** Decodes every escape except %2F/%2f, which stays as sent so that it remains distinct from '/'. */
function decodeKeepingEncodedSlashes(raw: string): string {
  if (!raw.includes('%')) return raw;
  return raw
    .split(/(%2F)/i)
    .map((part, i) => (i % 2 === 1 ? part : decodeComponent(part)))
    .join('');
}

/** The variable values of a path that matchesRequestPath accepted. */
export function extractVariables(template: PathTemplate, path: RequestPath): Map<string, string> {
  const values = new Map<string, string>();
  const verbView = template.verb !== undefined;
  const count = path.raw.length;
  const last = count - 1;
  for (const capture of template.captures) {
    if (!capture.multiSegment) {
      const value = verbView && capture.start === last ? path.decodedBeforeVerb : path.decoded[capture.start];
      values.set(capture.key, value!);
      continue;
    }
    // Only a trailing "**" makes template and path lengths differ: it takes the rest of the path.
    const end = capture.end === template.segments.length ? count : capture.end;
    const parts: string[] = [];
    for (let i = capture.start; i < end; i++) {
      parts.push(verbView && i === last ? path.rawBeforeVerb : path.raw[i]!);
    }
    values.set(capture.key, decodeKeepingEncodedSlashes(parts.join('/')));
  }
  return values;
}

/**
 * Returns the variable values (key: fieldPath joined with '.') or undefined when the path does
 * not match. Throws PathDecodeError when the path has an invalid percent-escape anywhere.
 */
export function matchPath(template: PathTemplate, rawPath: string): Map<string, string> | undefined {
  const path = parseRequestPath(rawPath);
  if (path === undefined || !matchesRequestPath(template, path)) return undefined;
  return extractVariables(template, path);
}
