import type { PathForm, RenderedPath } from './path-rendering.js';

export interface PathCandidate<T> {
  /** Lower-case OpenAPI operation key: get, post, ... */
  readonly method: string;
  /** Hand-written routes have one fixed path; bindings can be rendered in either form. */
  render(form: PathForm): RenderedPath;
  readonly item: T;
}

export interface PlacedPath<T> {
  readonly candidate: PathCandidate<T>;
  readonly rendered: RenderedPath;
}

/**
 * Gives every operation its OpenAPI path. OpenAPI forbids two paths that differ only in
 * parameter names ("/v1/{name}" and "/v1/{id}") and two operations of one method on a path,
 * though distinct bindings often render so in compact form; every member of such a group is
 * rendered expanded instead. What still collides (a binding shadowed by a hand-written route,
 * "*" against "**") is returned as omitted, in input order, so that the earlier one stays.
 */
export function layoutPaths<T>(candidates: readonly PathCandidate<T>[]): { placed: PlacedPath<T>[]; omitted: PathCandidate<T>[] } {
  const compact = candidates.map((candidate) => ({ candidate, rendered: candidate.render('compact') }));
  const groups = new Map<string, PlacedPath<T>[]>();
  for (const entry of compact) {
    const key = shapeOf(entry.rendered.path);
    groups.set(key, [...(groups.get(key) ?? []), entry]);
  }
  const conflicted = new Set<PathCandidate<T>>();
  for (const group of groups.values()) {
    if (!collide(group)) continue;
    for (const { candidate } of group) conflicted.add(candidate);
  }

  const placed: PlacedPath<T>[] = [];
  const omitted: PathCandidate<T>[] = [];
  const pathOfShape = new Map<string, string>();
  const taken = new Set<string>();
  for (const entry of compact) {
    const rendered = conflicted.has(entry.candidate) ? entry.candidate.render('expanded') : entry.rendered;
    const shape = shapeOf(rendered.path);
    const operation = `${entry.candidate.method} ${rendered.path}`;
    if ((pathOfShape.get(shape) ?? rendered.path) !== rendered.path || taken.has(operation)) {
      omitted.push(entry.candidate);
      continue;
    }
    pathOfShape.set(shape, rendered.path);
    taken.add(operation);
    placed.push({ candidate: entry.candidate, rendered });
  }
  return { placed, omitted };
}

/** The path with parameter names erased: paths equal here are the same path to OpenAPI. */
function shapeOf(path: string): string {
  return path.replace(/\{[^}]*\}/g, '{}');
}

function collide<T>(group: readonly PlacedPath<T>[]): boolean {
  const paths = new Set(group.map((e) => e.rendered.path));
  const methods = new Set(group.map((e) => e.candidate.method));
  return paths.size > 1 || methods.size < group.length;
}
