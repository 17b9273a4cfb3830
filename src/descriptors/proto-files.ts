import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/**
 * Import roots that are always searched after the configured ones, so that
 * `google/api/*.proto` and `google/protobuf/*.proto` resolve without being listed.
 * google-proto-files carries the full google/api/http.proto (with response_body);
 * protobufjs's bundled copy lacks it.
 */
export const bundledIncludeDir = path.dirname(require.resolve('google-proto-files/package.json'));

/** A parsed set of .proto files plus the import name ("acme/v1/a.proto") of each absolute path. */
export interface ProtoSources {
  readonly root: protobuf.Root;
  /** Absolute (or protobufjs-bundled) file name → import name relative to its include dir. */
  readonly importNames: ReadonlyMap<string, string>;
}

export class ProtoLoadError extends Error {
  override name = 'ProtoLoadError';
}

/**
 * Parses `files` (names relative to one of `includeDirs`) with every import they reach.
 * protobufjs is used as the .proto parser only; descriptors for the codec are built from its
 * reflection objects by ./file-registry.ts.
 */
export function loadProtoSources(includeDirs: readonly string[], files: readonly string[]): ProtoSources {
  const roots = [...includeDirs.map((dir) => path.resolve(dir)), bundledIncludeDir];
  const importNames = new Map<string, string>();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    const found = findProtoFile(roots, target);
    if (found) {
      importNames.set(found, target);
      return found;
    }
    throw new ProtoLoadError(`cannot find "${target}" in protos.includeDirs (${includeDirs.join(', ') || 'none'})`);
  };
  try {
    parserState.filename = null;
    root.loadSync([...files], { alternateCommentMode: true, keepCase: true });
  } catch (err) {
    if (err instanceof ProtoLoadError) throw err;
    // The tokenizer's messages ("illegal token '}' (line 5)") leave the file out; the parser
    // still holds it then. The parser's own messages name it and leave filename null.
    const file = parserState.filename;
    throw new ProtoLoadError(file ? `cannot parse ${file}: ${(err as Error).message}` : `cannot parse protos: ${(err as Error).message}`);
  }
  try {
    root.resolveAll();
  } catch (err) {
    throw new ProtoLoadError(`cannot resolve protos: ${(err as Error).message}`);
  }
  return { root, importNames };
}

/** The file an import name ("acme/v1/a.proto") refers to: the first include dir that has it. */
export function findProtoFile(includeDirs: readonly string[], importName: string): string | undefined {
  for (const dir of includeDirs) {
    const candidate = path.join(path.resolve(dir), importName);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * protobufjs's documented (but untyped) parse.filename: the file being parsed, for error
 * reporting, set before each file and reset after it parses.
 */
const parserState = protobuf.parse as unknown as { filename: string | null };
