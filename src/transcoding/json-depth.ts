/*
 * V8's JSON.parse is iterative and takes a million nested arrays in its stride, but much of
 * what reads a parsed document recurses: JSON.parse's reviver (exact-json.ts uses one for long
 * integers) and JSON.stringify overflow the stack a few thousand levels down, and the
 * binding walks messages level by level. So nesting is bounded on the text, before any of it
 * runs: one pass over the characters, counting brackets outside strings. It does not validate
 * the JSON; JSON.parse does that next.
 */

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

/** Whether JSON text nests objects and arrays more than `maxDepth` levels deep (`{}` is 1 level). */
export function exceedsJsonDepth(text: string, maxDepth: number): boolean {
  // Each level opens with a bracket of its own: a shorter text cannot be deeper.
  if (text.length <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === backslash) i++;
      else if (c === quote) inString = false;
    } else if (c === quote) {
      inString = true;
    } else if (c === openBrace || c === openBracket) {
      if (++depth > maxDepth) return true;
    } else if (c === closeBrace || c === closeBracket) {
      depth--;
    }
  }
  return false;
}
