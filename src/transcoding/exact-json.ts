/**
 * JSON.parse turns 12345678901234567890 into 12345678901234567000: an int64 or uint64 sent as a
 * bare JSON number would reach the upstream silently changed. proto3 JSON accepts 64-bit integers
 * as strings too, so such literals are kept as their exact source digits instead.
 */

/** A body that is not JSON; the message is safe to show the client (no echo of the input). */
export class InvalidJsonError extends SyntaxError {
  override name = 'InvalidJsonError';
}

// Every integer beyond 2^53-1 (9007199254740991) has at least 16 digits. Text without such a
// number cannot hold one, so the much slower reviver (27 instead of 5 µs for a 1.3 KB body) is
// only used when it can matter.
const longDigitRun = /\d{16}/;
// A run right after "." or an exponent is a fraction or an exponent, not an integer.
const longIntegerRun = /(?<![\d.eE]|[eE][+-])\d{16}/g;
const integerLiteral = /^-?\d+$/;

/**
 * Whether JSON text holds, outside strings, a number whose integer part has 16 or more digits:
 * a quoted int64 ("9223372036854775807", the proto3 JSON form) does not count.
 */
export function hasLongIntegerLiteral(text: string): boolean {
  // Most bodies have no 16-digit run at all: one quick scan settles them.
  if (!longDigitRun.test(text)) return false;
  let inString = false;
  let scanned = 0;
  longIntegerRun.lastIndex = 0;
  for (let run = longIntegerRun.exec(text); run !== null; run = longIntegerRun.exec(text)) {
    // Whether the run is in a string: the unescaped quotes before it, counted from the last run on.
    for (let quote = text.indexOf('"', scanned); quote !== -1 && quote < run.index; quote = text.indexOf('"', quote + 1)) {
      if (!isEscaped(text, quote)) inString = !inString;
    }
    scanned = run.index;
    if (!inString) return true;
  }
  return false;
}

/** Whether the character at `index` follows an odd number of backslashes. */
function isEscaped(text: string, index: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(index - backslashes - 1) === 0x5c) backslashes++;
  return backslashes % 2 === 1;
}

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
    if (!hasLongIntegerLiteral(text)) return JSON.parse(text);
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
