/**
 * Record formats without a registry: Confluent framing, Avro decoding (logical types, unions,
 * resolution between schema versions), JSON Schema validation, and the registered schema →
 * Iceberg schema mapping. The registry path itself is in schema-registry.test.ts.
 */
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { compileAvro, decimalText, decodeAvro, isoTimestamp, resolver } from '../../src/ingest/formats/avro.js';
import { DecodeError, avroToIceberg, frame, jsonSchemaToIceberg, unframe } from '../../src/ingest/formats/index.js';
import { compileJsonSchema, decodeJsonSchema } from '../../src/ingest/formats/json-schema.js';
import { RecordError } from '../../src/ingest/mapping.js';
import { isLakehouseError } from '../../src/core/errors.js';

function failure(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    expect(e).toBeInstanceOf(RecordError); // what sends a record to the dead-letter table
    return e as DecodeError;
  }
  throw new Error('expected a DecodeError');
}

describe('Confluent wire framing', () => {
  it('round-trips the schema id and payload', () => {
    const f = frame(0x01020304, Buffer.from('abc'));
    expect([...f.subarray(0, 5)]).toEqual([0, 1, 2, 3, 4]);
    const u = unframe(f);
    expect(u.schemaId).toBe(0x01020304);
    expect(u.payload.toString()).toBe('abc');
    expect(unframe(frame(4294967295, Buffer.alloc(0))).schemaId).toBe(4294967295);
  });

  it('rejects values that are not framed', () => {
    expect(failure(() => unframe(Buffer.from('{"a":1}'))).reason).toBe('bad-magic-byte');
    expect(failure(() => unframe(Buffer.from([0, 0, 1]))).reason).toBe('truncated');
    expect(failure(() => unframe(Buffer.from('{"a":1}'))).message).toMatch(/^bad-magic-byte: value starts with byte 0x7b/);
  });
});

const RICH = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'big', type: 'long' },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'at_ms', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'at_us', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'local_us', type: { type: 'long', logicalType: 'local-timestamp-micros' } },
    { name: 'tod', type: { type: 'int', logicalType: 'time-millis' } },
    { name: 'price', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
    { name: 'ref', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'raw', type: 'bytes' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
    { name: 'note', type: ['null', 'string'], default: null },
    {
      name: 'customer',
      type: ['null', { type: 'record', name: 'Customer', fields: [{ name: 'name', type: 'string' }, { name: 'vip', type: 'boolean' }] }],
      default: null,
    },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'attrs', type: { type: 'map', values: ['null', 'double'] } },
    { name: 'code', type: { type: 'fixed', name: 'Code', size: 2 } },
  ],
};

/** Unscaled two's complement big-endian bytes (what Avro decimals hold). */
function decimalBytes(unscaled: bigint, len: number): Buffer {
  const b = Buffer.alloc(len);
  let v = BigInt.asUintN(len * 8, unscaled);
  for (let i = len - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

describe('Avro decoding', () => {
  // A producer without logical-type support writes the underlying values (as Confluent's do).
  const writer = avsc.Type.forSchema(RICH as avsc.Schema);
  const value = {
    id: 42,
    big: 0, // patched below: avsc's default long cannot hold > 2^53
    day: 19723, // 2024-01-01
    at_ms: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    at_us: Date.UTC(2024, 0, 2, 3, 4, 5, 678) * 1000 + 901,
    local_us: -1, // 1969-12-31T23:59:59.999999
    tod: 3_723_004, // 01:02:03.004
    price: decimalBytes(-12345n, 3), // -123.45
    ref: '123e4567-e89b-12d3-a456-426614174000',
    raw: Buffer.from([1, 2, 3]),
    status: 'PAID',
    note: null,
    customer: { 'shop.Customer': { name: 'Ada', vip: true } },
    tags: ['a', 'b'],
    attrs: { x: { double: 1.5 }, y: null },
    code: Buffer.from('ZZ'),
  };

  function encoded(): Buffer {
    const buf = avsc.Type.forSchema(RICH as avsc.Schema, { wrapUnions: true }).toBuffer(value);
    // Patch `big` (2nd field; id=42 is one zig-zag byte) to 2^60 + 1: zig-zag of a positive n is 2n.
    let u = (2n ** 60n + 1n) * 2n;
    const varint: number[] = [];
    do {
      let byte = Number(u & 0x7fn);
      u >>= 7n;
      if (u > 0n) byte |= 0x80;
      varint.push(byte);
    } while (u > 0n);
    return Buffer.concat([buf.subarray(0, 1), Buffer.from(varint), buf.subarray(2)]);
  }

  it('turns values and logical types into the mapping shape', () => {
    expect(writer.isValid({ ...value, customer: { name: 'Ada', vip: true }, attrs: { x: 1.5, y: null } })).toBe(true);
    const t = compileAvro(JSON.stringify(RICH));
    expect(decodeAvro(t, encoded(), undefined, 'test')).toEqual({
      id: 42,
      big: '1152921504606846977',
      day: '2024-01-01',
      at_ms: '2024-01-02T03:04:05.678Z',
      at_us: '2024-01-02T03:04:05.678901Z',
      local_us: '1969-12-31T23:59:59.999999',
      tod: '01:02:03.004',
      price: '-123.45',
      ref: '123e4567-e89b-12d3-a456-426614174000',
      raw: 'AQID',
      status: 'PAID',
      note: null,
      customer: { name: 'Ada', vip: true },
      tags: ['a', 'b'],
      attrs: { x: 1.5, y: null },
      code: 'Wlo=',
    });
  });

  it('formats edge values exactly', () => {
    expect(decimalText(5n, 3)).toBe('0.005');
    expect(decimalText(-5n, 3)).toBe('-0.005');
    expect(decimalText(120n, 0)).toBe('120');
    expect(isoTimestamp(-1n, 1000n, 6, true)).toBe('1969-12-31T23:59:59.999999Z');
    expect(isoTimestamp(1_700_000_000_123_456_789n, 1_000_000n, 9, true)).toBe('2023-11-14T22:13:20.123456789Z');
  });

  it('rejects payloads that do not match the writer schema', () => {
    const t = compileAvro(JSON.stringify(RICH));
    expect(failure(() => decodeAvro(t, encoded().subarray(0, 10), undefined, 'schema id 7')).reason).toBe('avro-invalid');
    expect(failure(() => decodeAvro(t, Buffer.concat([encoded(), Buffer.from([1])]), undefined, 'schema id 7')).message).toMatch(/^avro-invalid: schema id 7/);
    expect(failure(() => compileAvro('{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}')).reason).toBe('unsupported-schema');
  });

  it('resolves an older writer schema against a newer reader schema', () => {
    const v1 = { type: 'record', name: 'User', fields: [{ name: 'id', type: 'int' }, { name: 'name', type: 'string' }] };
    const v2 = {
      type: 'record',
      name: 'User',
      fields: [
        { name: 'id', type: 'long' }, // promoted
        { name: 'name', type: 'string' },
        { name: 'email', type: ['null', 'string'], default: null }, // added, optional
        { name: 'since', type: { type: 'int', logicalType: 'date' }, default: 0 },
      ],
    };
    const payload = avsc.Type.forSchema(v1 as avsc.Schema).toBuffer({ id: 7, name: 'ann' });
    const reader = compileAvro(JSON.stringify(v2));
    const res = resolver(reader, compileAvro(JSON.stringify(v1)), 'v1 as v2');
    expect(decodeAvro(reader, payload, res, 'x')).toEqual({ id: 7, name: 'ann', email: null, since: '1970-01-01' });

    // A new required field without a default cannot be read from old data.
    const v3 = { ...v2, fields: [...v2.fields, { name: 'age', type: 'int' }] };
    expect(failure(() => resolver(compileAvro(JSON.stringify(v3)), compileAvro(JSON.stringify(v1)), 'v1 as v3')).reason).toBe('incompatible-schema');
  });
});

describe('JSON Schema validation', () => {
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: { id: { type: 'integer', minimum: 1 }, email: { type: 'string', format: 'email' }, tags: { type: 'array', prefixItems: [{ type: 'string' }] } },
    required: ['id'],
  };

  it('accepts valid payloads and reports every violation', () => {
    const { validate } = compileJsonSchema(JSON.stringify(schema), 'schema id 3');
    expect(decodeJsonSchema(validate, Buffer.from('{"id":5,"email":"a@b.co"}'), 'x')).toEqual({ id: 5, email: 'a@b.co' });
    const e = failure(() => decodeJsonSchema(validate, Buffer.from('{"id":0,"email":"nope","tags":[1]}'), 'schema id 3'));
    expect(e.reason).toBe('json-schema-violation');
    expect(e.message).toContain('/id must be >= 1');
    expect(e.message).toContain('/email must match format "email"');
    expect(e.message).toContain('/tags/0 must be string'); // prefixItems: a 2020-12 keyword
    expect(failure(() => decodeJsonSchema(validate, Buffer.from('{"id":'), 'x')).reason).toBe('json-invalid');
    expect(failure(() => decodeJsonSchema(validate, Buffer.from('{}'), 'x')).message).toContain("must have required property 'id'");
  });

  it('uses draft-07 by default and refuses unknown dialects', () => {
    const { validate } = compileJsonSchema(JSON.stringify({ type: 'object', properties: { a: { type: 'string' } }, dependencies: { a: ['b'] } }), 'x');
    expect(failure(() => decodeJsonSchema(validate, Buffer.from('{"a":"x"}'), 'x')).message).toContain("must have property b when property a is present");
    expect(failure(() => compileJsonSchema(JSON.stringify({ $schema: 'http://json-schema.org/draft-04/schema#' }), 'x')).reason).toBe('unsupported-schema');
    expect(failure(() => compileJsonSchema('{"type": 5}', 'x')).reason).toBe('unsupported-schema');
  });
});

describe('registered schema → Iceberg schema', () => {
  it('maps Avro types, logical types and nullability', () => {
    expect(avroToIceberg(compileAvro(JSON.stringify(RICH)))).toEqual({
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: true, type: 'long' },
        { id: 2, name: 'big', required: true, type: 'long' },
        { id: 3, name: 'day', required: true, type: 'date' },
        { id: 4, name: 'at_ms', required: true, type: 'timestamptz' },
        { id: 5, name: 'at_us', required: true, type: 'timestamptz' },
        { id: 6, name: 'local_us', required: true, type: 'timestamp' },
        { id: 7, name: 'tod', required: true, type: 'time' },
        { id: 8, name: 'price', required: true, type: 'decimal(9, 2)' },
        { id: 9, name: 'ref', required: true, type: 'uuid' },
        { id: 10, name: 'raw', required: true, type: 'binary' },
        { id: 11, name: 'status', required: true, type: 'string' },
        { id: 12, name: 'note', required: false, type: 'string' },
        {
          id: 13,
          name: 'customer',
          required: false,
          type: {
            type: 'struct',
            fields: [
              { id: 17, name: 'name', required: true, type: 'string' },
              { id: 18, name: 'vip', required: true, type: 'boolean' },
            ],
          },
        },
        { id: 14, name: 'tags', required: true, type: { type: 'list', 'element-id': 19, element: 'string', 'element-required': true } },
        { id: 15, name: 'attrs', required: true, type: { type: 'map', 'key-id': 20, key: 'string', 'value-id': 21, value: 'double', 'value-required': false } },
        { id: 16, name: 'code', required: true, type: 'binary' }, // fixed: DuckDB cannot write fixed[n]
      ],
    });
  });

  it('refuses Avro shapes Iceberg cannot hold', () => {
    const multi = { type: 'record', name: 'R', fields: [{ name: 'v', type: ['int', 'string'] }] };
    const err = (() => {
      try {
        avroToIceberg(compileAvro(JSON.stringify(multi)));
      } catch (e) {
        return e;
      }
    })();
    expect(isLakehouseError(err, 'VALIDATION_FAILED')).toBe(true);
    expect((err as Error).message).toMatch(/^v: union \["int","string"\] has no Iceberg type/);
    const rec = { type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] };
    expect(() => avroToIceberg(compileAvro(JSON.stringify(rec)))).toThrow(/recursive record Node/);
    expect(() => avroToIceberg(compileAvro('"string"'))).toThrow(/not a record/);
  });

  it('maps JSON Schema types, formats, $refs and nullability', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['id', 'when'],
      properties: {
        id: { type: 'integer', description: 'order id' },
        when: { type: 'string', format: 'date-time' },
        day: { type: ['string', 'null'], format: 'date' },
        amount: { type: 'number' },
        ok: { type: 'boolean' },
        kind: { enum: ['a', 'b'] },
        addr: { $ref: '#/$defs/Address' },
        tags: { type: 'array', items: { type: 'string' } },
        scores: { type: 'object', additionalProperties: { type: 'integer' } },
        maybe: { anyOf: [{ type: 'null' }, { type: 'string', format: 'uuid' }] },
      },
      $defs: { Address: { type: 'object', required: ['city'], properties: { city: { type: 'string' }, zip: { type: 'string' } } } },
    };
    expect(jsonSchemaToIceberg(schema)).toEqual({
      type: 'struct',
      'schema-id': 0,
      fields: [
        { id: 1, name: 'id', required: true, type: 'long', doc: 'order id' },
        { id: 2, name: 'when', required: true, type: 'timestamptz' },
        { id: 3, name: 'day', required: false, type: 'date' },
        { id: 4, name: 'amount', required: false, type: 'double' },
        { id: 5, name: 'ok', required: false, type: 'boolean' },
        { id: 6, name: 'kind', required: false, type: 'string' },
        {
          id: 7,
          name: 'addr',
          required: false,
          type: {
            type: 'struct',
            fields: [
              { id: 11, name: 'city', required: true, type: 'string' },
              { id: 12, name: 'zip', required: false, type: 'string' },
            ],
          },
        },
        { id: 8, name: 'tags', required: false, type: { type: 'list', 'element-id': 13, element: 'string', 'element-required': true } },
        { id: 9, name: 'scores', required: false, type: { type: 'map', 'key-id': 14, key: 'string', 'value-id': 15, value: 'long', 'value-required': true } },
        { id: 10, name: 'maybe', required: false, type: 'uuid' },
      ],
    });
    expect(() => jsonSchemaToIceberg({ type: 'object', properties: { free: { type: 'object' } } })).toThrow(/^free: an object without properties/);
    expect(() => jsonSchemaToIceberg({ type: 'object', properties: { x: { type: ['string', 'integer'] } } })).toThrow(/^x: type \["string","integer"\] has no Iceberg type/);
  });
});
