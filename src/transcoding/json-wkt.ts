import type { JsonObject, JsonValue } from '@bufbuild/protobuf';

/*
 * proto3 JSON values of the well-known types the compiled writer (./json-writer.ts) formats itself.
 * Each follows @bufbuild/protobuf's to-json.js exactly, range errors included, and is checked
 * against it by test/transcoding/json-writer.test.ts.
 */

interface Seconds {
  seconds: bigint | string;
  nanos: number;
}

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, in milliseconds as bufbuild compares them.
const timestampMsMin = -62135596800000;
const timestampMsMax = 253402300799000;
const durationSecondsMax = 315576000000;

const twoDigits = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

export function timestampJson(value: unknown): string {
  const { seconds, nanos } = value as Seconds;
  const whole = Number(seconds);
  const ms = whole * 1000;
  // Negated so that NaN is out of range too (bufbuild's Date throws a RangeError on it).
  if (!(ms >= timestampMsMin && ms <= timestampMsMax)) {
    throw new Error('cannot encode message google.protobuf.Timestamp to JSON: must be from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z inclusive');
  }
  if (nanos < 0) throw new Error('cannot encode message google.protobuf.Timestamp to JSON: nanos must not be negative');
  if (nanos > 999999999) throw new Error('cannot encode message google.protobuf.Timestamp to JSON: nanos must not be greater than 999999999');
  return utcSeconds(whole) + (nanos > 0 ? '.' + fraction((nanos + 1000000000).toString().substring(1)) : '') + 'Z';
}

export function durationJson(value: unknown): string {
  const { seconds: exact, nanos } = value as Seconds;
  const seconds = Number(exact);
  if (seconds > durationSecondsMax || seconds < -durationSecondsMax) {
    throw new Error('cannot encode message google.protobuf.Duration to JSON: value out of range');
  }
  if ((seconds > 0 && nanos < 0) || (seconds < 0 && nanos > 0)) {
    throw new Error('cannot encode message google.protobuf.Duration to JSON: nanos sign must match seconds sign');
  }
  let text = exact.toString();
  if (nanos !== 0) {
    const digits = Math.abs(nanos).toString();
    text += '.' + fraction('0'.repeat(9 - digits.length) + digits);
    if (nanos < 0 && seconds == 0) text = '-' + text;
  }
  return text + 's';
}

/** Nine digits of nanos, cut to 3 or 6 when the rest are zeros. */
function fraction(nine: string): string {
  if (nine.substring(3) === '000000') return nine.substring(0, 3);
  if (nine.substring(6) === '000') return nine.substring(0, 6);
  return nine;
}

/** "YYYY-MM-DDTHH:MM:SS" of a whole number of seconds since the epoch (years 1 to 9999). */
function utcSeconds(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  let rest = seconds - days * 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted); the
  // Date + toISOString() route bufbuild takes costs about five times as much.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  return (
    String(year).padStart(4, '0') + '-' + twoDigits[month] + '-' + twoDigits[day] + 'T' +
    twoDigits[hours] + ':' + twoDigits[minutes] + ':' + twoDigits[rest - minutes * 60]
  );
}

/**
 * A google.protobuf.Struct field, which bufbuild stores as a plain JSON object: its toJson
 * makes Value messages of it and prints those, rejecting what a Value cannot hold, so the
 * object is rebuilt here the same way rather than handed to JSON.stringify as it is.
 */
export function structFieldJson(value: unknown): JsonObject {
  const json: JsonObject = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return json;
  for (const key of Object.keys(value)) setOwn(json, key, valueJson((value as Record<string, unknown>)[key]));
  return json;
}

/** json[key] = value, where a "__proto__" key becomes an own property as bufbuild's setOwn makes it. */
export function setOwn(json: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(json, key, { value, enumerable: true, writable: true, configurable: true });
  else json[key] = value;
}

function valueJson(value: unknown): JsonValue {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new Error('google.protobuf.Value cannot be NaN or Infinity');
      return value;
    case 'string':
    case 'boolean':
      return value;
    case 'object': {
      if (value === null) return null;
      if (!Array.isArray(value)) return structFieldJson(value);
      const list: JsonValue[] = [];
      for (const item of value) list.push(valueJson(item));
      return list;
    }
    default:
      throw new Error('google.protobuf.Value must have a value');
  }
}
