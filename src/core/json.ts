import { isSafeNumber, parse as losslessParse } from 'lossless-json';

/**
 * Lossless JSON: Iceberg snapshot ids are 64-bit and routinely exceed 2^53, which JSON.parse
 * silently rounds. Integers outside the safe range become bigint; everything else is a number.
 *
 * Metadata files grow with every snapshot and are parsed on every commit, so the fast path is
 * the native parser: a single pass outside string literals quotes the unsafe integers with a
 * marker, and a reviver turns exactly those back into bigint.
 */
const MARK = '\u0000int:';

function quoteBigIntegers(text: string): string | null {
  let out = '';
  let last = 0;
  let found = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string literal, honouring escapes.
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
      continue;
    }
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let j = i + (c === 45 ? 1 : 0);
      while (j < n && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      const next = j < n ? text.charCodeAt(j) : 0;
      const isInteger = next !== 46 /* . */ && next !== 101 /* e */ && next !== 69 /* E */;
      const digits = j - i - (c === 45 ? 1 : 0);
      if (isInteger && digits >= 16 && !isSafeNumber(text.slice(i, j))) {
        out += `${text.slice(last, i)}"\\u0000int:${text.slice(i, j)}"`;
        last = j;
        found = true;
      }
      i = j - 1;
    }
  }
  return found ? out + text.slice(last) : null;
}

export function parseJsonLossless(text: string): unknown {
  let quoted: string | null;
  try {
    quoted = quoteBigIntegers(text);
  } catch {
    return losslessParse(text, undefined, reviveNumber);
  }
  if (quoted === null) return JSON.parse(text);
  return JSON.parse(quoted, (_k, v) => (typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v));
}

function reviveNumber(value: string): number | bigint {
  if (isSafeNumber(value)) return Number(value);
  if (/^-?\d+$/.test(value)) return BigInt(value);
  return Number(value);
}

/** Serialises bigint as a plain JSON integer (not a string), as Java Iceberg does. */
export function stringifyJson(value: unknown, indent?: number): string {
  let sawBigInt = false;
  const out = JSON.stringify(
    value,
    (_k, v) => {
      if (typeof v === 'bigint') {
        sawBigInt = true;
        return `${MARK}${v.toString()}`;
      }
      if (v instanceof Map) return Object.fromEntries(v);
      return v;
    },
    indent,
  );
  if (out === undefined) throw new TypeError('value is not JSON-serialisable');
  // The marker starts with U+0000, which JSON.stringify always escapes as \u0000.
  return sawBigInt ? out.replace(/"\\u0000int:(-?\d+)"/g, '$1') : out;
}

/** Coerces a JSON integer (number, bigint or decimal string) to bigint. */
export function toBigInt(value: unknown, what = 'value'): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`${what} is not an integer: ${String(value)}`);
}
