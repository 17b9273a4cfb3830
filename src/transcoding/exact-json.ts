/**
 * JSON.parse turns 12345678901234567890 into 12345678901234567000: an int64 or uint64 sent as a
 * bare JSON number would reach the upstream silently changed. proto3 JSON accepts 64-bit integers
 * as strings too, so such literals are kept as their exact source digits instead.
 */

/** A body that is not JSON; the message is safe to show the client (no echo of the input). */
export class InvalidJsonError extends SyntaxError {
  override name = 'InvalidJsonError';
}

// Every integer beyond 2^53-1 (9007199254740991) has at least 16 digits. Text without such a run
// cannot hold one, so the much slower reviver is only used when it can matter.
const longDigitRun = /\d{16}/;
const integerLiteral = /^-?\d+$/;

interface ReviverContext {
  readonly source?: string;
}

/*
 * The literals kept as text, by parsed document: where the schema says the value is a number
 * of google.protobuf.Value (a double), struct-numbers.ts turns them back into numbers.
 */
const keptLiterals = new WeakMap<object, ReadonlySet<string>>();

/** JSON.parse that returns integer literals outside ±(2^53-1) as their source text. */
export function parseJsonExact(text: string): unknown {
  try {
    if (!longDigitRun.test(text)) return JSON.parse(text);
    const kept = new Set<string>();
    // Node 22+ passes the literal's source text as the third argument for primitive values.
    const parsed: unknown = JSON.parse(text, (_key: string, value: unknown, context?: ReviverContext) => {
      if (typeof value !== 'number' || Number.isSafeInteger(value)) return value;
      const source = context?.source;
      if (source === undefined || !integerLiteral.test(source)) return value;
      kept.add(source);
      return source;
    });
    if (kept.size > 0 && typeof parsed === 'object' && parsed !== null) keptLiterals.set(parsed, kept);
    return parsed;
  } catch (err) {
    throw new InvalidJsonError(`request body is not valid JSON: ${clientSafeReason(err)}`, { cause: err });
  }
}

/** The integer literals parseJsonExact kept as text in the document `root`, if any. */
export function keptIntegerLiterals(root: unknown): ReadonlySet<string> | undefined {
  return typeof root === 'object' && root !== null ? keptLiterals.get(root) : undefined;
}

// V8 appends an excerpt of the input to some messages ("Unexpected token 'x', "{"a": x}" is not
// valid JSON"); the excerpt could carry secrets into logs and error bodies, so it is cut off.
const inputExcerpt = /, (?:\.\.\.)?".*is not valid JSON$/s;

function clientSafeReason(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  return message.replace(inputExcerpt, '') || 'malformed JSON';
}
