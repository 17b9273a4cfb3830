import {
  extractVariables,
  parseRequestPath,
  type PathTemplate,
  type RequestPath,
  type TemplateSegment,
} from './path-template.js';

export type RouteMatch<T> =
  | { kind: 'found'; value: T; params: Map<string, string> }
  /** Sorted; includes HEAD where GET is allowed. */
  | { kind: 'method-not-allowed'; allow: readonly string[] }
  | { kind: 'not-found' };

export interface RouteEntry<T> {
  /** Upper-case HTTP method, e.g. GET, POST, or a custom one. Compared case-sensitively. */
  method: string;
  template: PathTemplate;
  value: T;
  /** Used in errors, e.g. "GET /v1/x (acme.v1.Svc.Get)". */
  describe: string;
}

export interface RouteTable<T> {
  /** Throws PathDecodeError when the path has an invalid percent-escape (answer 400). */
  match(method: string, rawPath: string): RouteMatch<T>;
  readonly entries: readonly RouteEntry<T>[];
}

export class RouteConflictError extends Error {
  override name = 'RouteConflictError';
}

const rank: Record<TemplateSegment['kind'], number> = { literal: 0, star: 1, 'double-star': 2 };

/*
 * Specificity, used when several templates of one method match the same path: compare the
 * templates segment by segment from the left, where a literal beats "*" which beats "**"
 * (variables count as their pattern). If one template is a prefix of the other, both can only
 * match when the longer one ends in a "**" matching nothing, so the shorter one wins. Then a
 * template with a verb beats one without (e.g. "/v1/{name}:cancel" over "/v1/{name}" for
 * "/v1/x:cancel"). Templates still tied cannot match the same path unless their shapes are
 * equal, which buildRouteTable rejects.
 */
function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const shared = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < shared; i++) {
    const difference = rank[a.segments[i]!.kind] - rank[b.segments[i]!.kind];
    if (difference !== 0) return difference;
  }
  if (a.segments.length !== b.segments.length) return a.segments.length - b.segments.length;
  return (a.verb === undefined ? 1 : 0) - (b.verb === undefined ? 1 : 0);
}

/*
 * Each method's templates are kept in segment tries: one for templates without a verb and one
 * per verb, since a verb changes what the last path segment is. Searching a trie depth-first,
 * literal child before "*" child before a "**" ending at the node, and a template ending at the
 * node before a "**" that would match nothing, finds its most specific match first.
 */
interface TrieNode<T> {
  readonly literals: Map<string, TrieNode<T>>;
  star: TrieNode<T> | undefined;
  /** The entry whose template ends at this node. */
  end: RouteEntry<T> | undefined;
  /** The entry whose template ends at this node with "**", which takes the rest of the path. */
  rest: RouteEntry<T> | undefined;
}

interface MethodRoutes<T> {
  readonly plain: TrieNode<T>;
  readonly byVerb: Map<string, TrieNode<T>>;
}

function trieNode<T>(): TrieNode<T> {
  return { literals: new Map(), star: undefined, end: undefined, rest: undefined };
}

function insert<T>(routes: MethodRoutes<T>, entry: RouteEntry<T>): void {
  const { verb, segments } = entry.template;
  let node = routes.plain;
  if (verb !== undefined) {
    node = routes.byVerb.get(verb) ?? trieNode();
    routes.byVerb.set(verb, node);
  }
  for (const segment of segments) {
    if (segment.kind === 'double-star') {
      node.rest = entry;
      return;
    }
    if (segment.kind === 'star') {
      node = node.star ??= trieNode();
    } else {
      let child = node.literals.get(segment.value);
      if (child === undefined) node.literals.set(segment.value, (child = trieNode()));
      node = child;
    }
  }
  node.end = entry;
}

function search<T>(node: TrieNode<T>, path: RequestPath, depth: number, verbView: boolean): RouteEntry<T> | undefined {
  const count = path.raw.length;
  if (depth === count) return node.end ?? node.rest;
  const segment = verbView && depth === count - 1 ? path.decodedBeforeVerb : path.decoded[depth]!;
  const literal = node.literals.get(segment);
  const viaLiteral = literal === undefined ? undefined : search(literal, path, depth + 1, verbView);
  if (viaLiteral !== undefined) return viaLiteral;
  const viaStar = node.star === undefined ? undefined : search(node.star, path, depth + 1, verbView);
  return viaStar ?? node.rest;
}

function findEntry<T>(routes: MethodRoutes<T> | undefined, path: RequestPath): RouteEntry<T> | undefined {
  if (routes === undefined) return undefined;
  const plain = search(routes.plain, path, 0, false);
  const verbRoot = path.verb === undefined ? undefined : routes.byVerb.get(path.verb);
  const withVerb = verbRoot === undefined ? undefined : search(verbRoot, path, 0, true);
  if (plain === undefined || withVerb === undefined) return plain ?? withVerb;
  return compareSpecificity(withVerb.template, plain.template) <= 0 ? withVerb : plain;
}

const notFound = { kind: 'not-found' } as const;

class TrieRouteTable<T> implements RouteTable<T> {
  constructor(
    readonly entries: readonly RouteEntry<T>[],
    private readonly byMethod: ReadonlyMap<string, MethodRoutes<T>>,
  ) {}

  match(method: string, rawPath: string): RouteMatch<T> {
    const path = parseRequestPath(rawPath);
    if (path === undefined) return notFound;
    const entry =
      findEntry(this.byMethod.get(method), path) ??
      (method === 'HEAD' ? findEntry(this.byMethod.get('GET'), path) : undefined);
    if (entry !== undefined) {
      return { kind: 'found', value: entry.value, params: extractVariables(entry.template, path) };
    }

    const allow: string[] = [];
    for (const [other, routes] of this.byMethod) {
      if (findEntry(routes, path) !== undefined) allow.push(other);
    }
    if (allow.length === 0) return notFound;
    if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
    return { kind: 'method-not-allowed', allow: allow.sort() };
  }
}

/**
 * Compiles the entries into a table. Throws RouteConflictError, naming both bindings, when two
 * entries of the same method have the same shape (literals, wildcards and verb).
 */
export function buildRouteTable<T>(entries: readonly RouteEntry<T>[]): RouteTable<T> {
  const byMethod = new Map<string, MethodRoutes<T>>();
  const byMethodAndShape = new Map<string, RouteEntry<T>>();
  for (const entry of entries) {
    const key = `${entry.method} ${entry.template.shape}`;
    const existing = byMethodAndShape.get(key);
    if (existing !== undefined) {
      throw new RouteConflictError(
        `Conflicting HTTP bindings: ${existing.describe} and ${entry.describe} both map to ${key}`,
      );
    }
    byMethodAndShape.set(key, entry);
    let routes = byMethod.get(entry.method);
    if (routes === undefined) byMethod.set(entry.method, (routes = { plain: trieNode(), byVerb: new Map() }));
    insert(routes, entry);
  }
  return new TrieRouteTable([...entries], byMethod);
}
