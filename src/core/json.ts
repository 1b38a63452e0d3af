import { parse, stringify, isSafeNumber } from 'lossless-json';

/**
 * Lossless JSON: Iceberg snapshot ids are 64-bit and routinely exceed 2^53, which JSON.parse
 * silently rounds. Integers outside the safe range become bigint; everything else is a number.
 */
export function parseJsonLossless(text: string): unknown {
  return parse(text, undefined, (value: string) => {
    if (isSafeNumber(value)) return Number(value);
    if (/^-?\d+$/.test(value)) return BigInt(value);
    return Number(value);
  });
}

/** Serialises bigint as a plain JSON integer (not a string), as Java Iceberg does. */
export function stringifyJson(value: unknown, indent?: number): string {
  const out = stringify(value, undefined, indent);
  if (out === undefined) throw new TypeError('value is not JSON-serialisable');
  return out;
}

/** Coerces a JSON integer (number, bigint or decimal string) to bigint. */
export function toBigInt(value: unknown, what = 'value'): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`${what} is not an integer: ${String(value)}`);
}
