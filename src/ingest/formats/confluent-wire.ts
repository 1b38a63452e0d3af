/**
 * Confluent's wire format for schema-registry serialised records: magic byte 0, the schema's
 * global id as a 4-byte big-endian unsigned integer, then the payload (Avro binary without a
 * container header, or JSON text for JSON Schema). Protobuf's message-index prefix is not handled.
 */
import { DecodeError } from './decode-error.js';

export const MAGIC_BYTE = 0;
export const HEADER_BYTES = 5;

export interface Framed {
  schemaId: number;
  payload: Buffer;
}

/** Splits a framed value; throws DecodeError (`bad-magic-byte`, `truncated`) otherwise. */
export function unframe(value: Buffer): Framed {
  if (value.length < HEADER_BYTES) {
    throw new DecodeError('truncated', `value has ${value.length} bytes, less than the 5-byte schema registry header (magic byte + schema id)`);
  }
  if (value[0] !== MAGIC_BYTE) {
    throw new DecodeError('bad-magic-byte', `value starts with byte 0x${value[0].toString(16).padStart(2, '0')}, not the schema registry magic byte 0x00 (not Confluent-framed)`);
  }
  return { schemaId: value.readUInt32BE(1), payload: value.subarray(HEADER_BYTES) };
}

/** Frames a payload (what Confluent serializers produce); used by producers and tests. */
export function frame(schemaId: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0xffffffff) throw new RangeError(`schema id ${schemaId} does not fit 4 unsigned bytes`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  out.set(payload, HEADER_BYTES);
  return out;
}
