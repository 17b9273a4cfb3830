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

// Node 22+ passes the literal's source text as the third argument for primitive values.
function keepExactIntegers(_key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== 'number' || Number.isSafeInteger(value)) return value;
  const source = context?.source;
  return source !== undefined && integerLiteral.test(source) ? source : value;
}

/** JSON.parse that returns integer literals outside ±(2^53-1) as their source text. */
export function parseJsonExact(text: string): unknown {
  try {
    return longDigitRun.test(text) ? JSON.parse(text, keepExactIntegers) : JSON.parse(text);
  } catch (err) {
    throw new InvalidJsonError(`request body is not valid JSON: ${clientSafeReason(err)}`, { cause: err });
  }
}

// V8 appends an excerpt of the input to some messages ("Unexpected token 'x', "{"a": x}" is not
// valid JSON"); the excerpt could carry secrets into logs and error bodies, so it is cut off.
const inputExcerpt = /, (?:\.\.\.)?".*is not valid JSON$/s;

function clientSafeReason(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  return message.replace(inputExcerpt, '') || 'malformed JSON';
}
