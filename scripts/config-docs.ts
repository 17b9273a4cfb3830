import fs from 'node:fs';
import { ConfigSchema } from '../src/config/schema.js';

/*
 * Renders the README's table of config keys from the config schema, so the documentation
 * cannot drift from what start-up validates. `npm run docs:config` rewrites the README;
 * test/config/config-docs.test.ts fails when it is stale.
 */

interface SchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  /** A map's value schema (TypeBox's Record), keyed by a name pattern. */
  patternProperties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  anyOf?: SchemaNode[];
  const?: unknown;
  required?: string[];
  enum?: unknown[];
}

const begin = '<!-- config-keys:begin -->';
const end = '<!-- config-keys:end -->';

export function renderConfigTable(): string {
  const rows: string[] = ['| key | type | default | description |', '|---|---|---|---|'];
  walk(ConfigSchema as unknown as SchemaNode, '', rows, new Set());
  return rows.join('\n');
}

function walk(node: SchemaNode, prefix: string, rows: string[], required: ReadonlySet<string>): void {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    const isArrayOfObjects = child.type === 'array' && child.items?.type === 'object';
    if (child.type === 'object' && child.properties) {
      walk(child, key, rows, new Set(child.required ?? []));
      continue;
    }
    const requiredMark = required.has(name) ? ' (required)' : '';
    rows.push(`| \`${key}\` | ${typeOf(child)}${requiredMark} | ${defaultOf(child)} | ${child.description ?? ''} |`);
    if (isArrayOfObjects) walk(child.items!, `${key}[]`, rows, new Set(child.items!.required ?? []));
    // A map of objects (services[].methods): its values' keys, under a placeholder for the map key.
    const values = Object.values(child.patternProperties ?? {})[0];
    if (values?.type === 'object' && values.properties) walk(values, `${key}.<${placeholderOf(name)}>`, rows, new Set(values.required ?? []));
  }
}

/** What a map's keys stand for, in the key column: `methods` → `RpcName`. */
function placeholderOf(mapName: string): string {
  return mapName === 'methods' ? 'RpcName' : 'name';
}

function typeOf(node: SchemaNode): string {
  if (node.anyOf) return node.anyOf.map((n) => JSON.stringify(n.const)).join(' \\| ');
  if (node.type === 'array') return node.items?.type === 'object' ? 'list of objects' : `list of ${node.items?.type ?? 'values'}`;
  if (node.type === 'object') return 'map';
  return node.type ?? 'any';
}

function defaultOf(node: SchemaNode): string {
  return node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``;
}

export function updateReadme(readme: string): string {
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${begin} … ${end} markers`);
  return `${readme.slice(0, from + begin.length)}\n${renderConfigTable()}\n${readme.slice(to)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  fs.writeFileSync('README.md', updateReadme(fs.readFileSync('README.md', 'utf8')));
  console.log('README.md: config keys updated');
}
