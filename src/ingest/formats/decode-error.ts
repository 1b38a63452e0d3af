/**
 * A record value that cannot be decoded. It is a RecordError, so the ingestion paths send the
 * record to the dead-letter table (with this message) instead of failing the job; `reason` is a
 * stable machine-readable code, also put at the start of the message.
 */
import { RecordError } from '../mapping.js';

export type DecodeFailure =
  | 'truncated'
  | 'bad-magic-byte'
  | 'unknown-schema-id'
  | 'schema-type-mismatch'
  | 'unsupported-schema'
  | 'incompatible-schema'
  | 'avro-invalid'
  | 'json-invalid'
  | 'json-schema-violation';

export class DecodeError extends RecordError {
  constructor(
    readonly reason: DecodeFailure,
    message: string,
  ) {
    super(`${reason}: ${message}`);
    this.name = 'DecodeError';
  }
}
