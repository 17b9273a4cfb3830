/**
 * What GET /admin/config must never show. Secrets are named by path here, in one list, so a new
 * secret key is one line: dots between keys, `[]` for every element of an array. Any URL with
 * a password anywhere in the config (rateLimit.redis.url, an exporter endpoint) has it hidden
 * too, whether or not its key is listed.
 */
const secretPaths: readonly string[] = ['auth.jwt.secret', 'auth.jwt.issuers[].secret'];

export const redacted = '[redacted]';

/** A copy of `config` with every secret replaced by "[redacted]". */
export function redactSecrets(config: unknown): unknown {
  const copy = hideUrlPasswords(config);
  for (const secretPath of secretPaths) redactPath(copy, secretPath.split('.'));
  return copy;
}

function redactPath(node: unknown, keys: readonly string[]): void {
  if (node === null || typeof node !== 'object' || keys.length === 0) return;
  const [key, ...rest] = keys as [string, ...string[]];
  const eachElement = key.endsWith('[]');
  const name = eachElement ? key.slice(0, -2) : key;
  const record = node as Record<string, unknown>;
  if (!(name in record) || record[name] === undefined) return;
  if (eachElement) {
    const elements = record[name];
    if (!Array.isArray(elements)) return;
    elements.forEach((element, i) => {
      if (rest.length === 0) elements[i] = redacted;
      else redactPath(element, rest);
    });
    return;
  }
  if (rest.length === 0) record[name] = redacted;
  else redactPath(record[name], rest);
}

/** `scheme://user:password@host…` with the password hidden; other strings as they are. */
const urlWithPassword = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)([^/?#@]*)@/i;

function hideUrlPasswords(node: unknown): unknown {
  if (typeof node === 'string') return node.replace(urlWithPassword, `$1${redacted}@`);
  if (Array.isArray(node)) return node.map(hideUrlPasswords);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, hideUrlPasswords(value)]));
}
