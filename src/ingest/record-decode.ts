/**
 * Record values → what the mapping reads: the one place where the per-record path decodes a
 * record (JSON, or a schema-registry format through formats/). The fast path (fast-path.ts)
 * never decodes in JS.
 */
import type { KafkaMessage } from 'kafkajs';
import type { RecordDecoder } from './formats/index.js';
import { RecordError } from './mapping.js';

export const isRecordObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Throws RecordError for a value that cannot be decoded. */
export function decodeValue(m: KafkaMessage, topic: string, decoder: RecordDecoder | null): unknown {
  const raw = m.value;
  if (!raw) throw new RecordError('record has no value');
  if (decoder) return decoder.decode(topic, raw);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new RecordError(`invalid JSON: ${(e as Error).message}`);
  }
}
