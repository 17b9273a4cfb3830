import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';

/*
 * A proto `float` decodes to a float32 widened to a double: 0.1f becomes 0.10000000149011612,
 * and @bufbuild/protobuf writes that double. Go, C++ and Java print the shortest decimal that
 * reads back as the same float32 ("0.1"), and frontends compare against what they sent, so
 * float values are rewritten that way before a response is rendered. Messages without float
 * fields (most) get no rewriter at all, so they pay nothing.
 */

type Rewriter = (message: Record<string, unknown>) => void;

const rewriters = new WeakMap<DescMessage, Rewriter | null>();

/** The rewriter for messages of `desc`, or undefined when no float can occur in them. */
export function float32Rewriter(desc: DescMessage): Rewriter | undefined {
  return rewriterOf(desc) ?? undefined;
}

/** The shortest decimal that reads back as the same float32. */
export function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || Math.fround(value) !== value) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

function rewriterOf(desc: DescMessage): Rewriter | null {
  const cached = rewriters.get(desc);
  if (cached !== undefined) return cached;
  if (!reachesFloat(desc, new Set())) {
    rewriters.set(desc, null);
    return null;
  }
  // Set before compiling the fields so recursive types find themselves (resolved lazily).
  const steps: Rewriter[] = [];
  const rewrite: Rewriter = (message) => {
    for (const step of steps) step(message);
  };
  rewriters.set(desc, rewrite);
  for (const field of desc.fields) {
    const value = valueStep(field);
    if (value) steps.push(field.oneof ? inOneof(field, value) : fieldStep(field, value));
  }
  return rewrite;
}

type ValueStep = (value: unknown) => unknown;

function fieldStep(field: DescField, value: ValueStep): Rewriter {
  const name = field.localName;
  switch (field.fieldKind) {
    case 'list':
      return (message) => {
        const list = message[name] as unknown[];
        for (let i = 0; i < list.length; i++) list[i] = value(list[i]);
      };
    case 'map':
      return (message) => {
        const map = message[name] as Record<string, unknown>;
        for (const key of Object.keys(map)) map[key] = value(map[key]);
      };
    default:
      return (message) => {
        if (message[name] !== undefined) message[name] = value(message[name]);
      };
  }
}

function valueStep(field: DescField): ValueStep | undefined {
  if (scalarOf(field) === ScalarType.FLOAT) return (v) => shortestFloat32(v as number);
  const message = messageOf(field);
  if (!message || !reachesFloat(message, new Set())) return undefined;
  return (v) => {
    // A singular google.protobuf.FloatValue field holds the bare number.
    if (typeof v === 'number') return shortestFloat32(v);
    if (v && typeof v === 'object') rewriterOf(message)?.(v as Record<string, unknown>);
    return v;
  };
}

/** Oneof members live under the oneof's name as { case, value }. */
function inOneof(field: DescField, value: ValueStep): Rewriter {
  const oneofName = field.oneof!.localName;
  return (message) => {
    const selected = message[oneofName] as { case?: string; value?: unknown } | undefined;
    if (selected?.case === field.localName) selected.value = value(selected.value);
  };
}

function scalarOf(field: DescField): ScalarType | undefined {
  return (field as { scalar?: ScalarType }).scalar;
}

function messageOf(field: DescField): DescMessage | undefined {
  return (field as { message?: DescMessage }).message;
}

function reachesFloat(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (seen.has(desc)) return false;
  seen.add(desc);
  return desc.fields.some((field) => {
    if (scalarOf(field) === ScalarType.FLOAT) return true;
    const message = messageOf(field);
    return message !== undefined && reachesFloat(message, seen);
  });
}
