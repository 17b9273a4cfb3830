import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A mistake of whoever runs the command (an unknown option, a port in use): printed as one
 * line without a stack, and the process exits 1.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** node:util parseArgs, its complaints about the command line turned into UsageErrors. */
export function parseCommandLine<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    // Node's first sentence says what is wrong; the rest is advice about positional arguments.
    const [what] = (err as Error).message.split('. ');
    throw new UsageError(`${what} (see --help)`);
  }
}
