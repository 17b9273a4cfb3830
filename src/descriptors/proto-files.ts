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
    for (const dir of roots) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) {
        importNames.set(candidate, target);
        return candidate;
      }
    }
    throw new ProtoLoadError(`cannot find "${target}" in protos.includeDirs (${includeDirs.join(', ') || 'none'})`);
  };
  try {
    root.loadSync([...files], { alternateCommentMode: true, keepCase: true });
    root.resolveAll();
  } catch (err) {
    if (err instanceof ProtoLoadError) throw err;
    throw new ProtoLoadError(`cannot parse protos: ${(err as Error).message}`);
  }
  return { root, importNames };
}
