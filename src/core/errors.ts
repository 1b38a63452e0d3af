/**
 * One registry of stable error codes (modelled on Fastify's lib/errors.js). Each code maps to an
 * HTTP status and an Iceberg REST error `type`, so every layer raises the same error and the API
 * renders one wire shape: `{error:{message,type,code}}` (Lakekeeper / Iceberg REST spec).
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, type: 'BadRequestException' },
  VALIDATION_FAILED: { status: 400, type: 'ValidationException' },
  UNKNOWN_TYPE: { status: 400, type: 'ValidationException' },
  UNSUPPORTED_FORMAT_VERSION: { status: 400, type: 'UnsupportedOperationException' },
  UNSUPPORTED_OPERATION: { status: 406, type: 'UnsupportedOperationException' },
  INVALID_METADATA: { status: 422, type: 'InvalidMetadataException' },
  CORRUPT_FILE: { status: 422, type: 'CorruptFileException' },
  NOT_FOUND: { status: 404, type: 'NotFoundException' },
  NO_SUCH_NAMESPACE: { status: 404, type: 'NoSuchNamespaceException' },
  NO_SUCH_TABLE: { status: 404, type: 'NoSuchTableException' },
  NO_SUCH_VIEW: { status: 404, type: 'NoSuchViewException' },
  NO_SUCH_SNAPSHOT: { status: 404, type: 'NoSuchSnapshotException' },
  NO_SUCH_REF: { status: 404, type: 'NoSuchReferenceException' },
  FILE_NOT_FOUND: { status: 404, type: 'NotFoundException' },
  ALREADY_EXISTS: { status: 409, type: 'AlreadyExistsException' },
  NAMESPACE_NOT_EMPTY: { status: 409, type: 'NamespaceNotEmptyException' },
  COMMIT_FAILED: { status: 409, type: 'CommitFailedException' },
  COMMIT_STATE_UNKNOWN: { status: 500, type: 'CommitStateUnknownException' },
  STORAGE_ERROR: { status: 502, type: 'StorageException' },
  SERVICE_UNAVAILABLE: { status: 503, type: 'ServiceUnavailableException' },
  INTERNAL: { status: 500, type: 'InternalServerError' },
  RESOURCE_IN_USE: { status: 409, type: 'ConflictException' },
  /** REST updateProperties: a key in both removals and updates. */
  UNPROCESSABLE_ENTITY: { status: 422, type: 'UnprocessableEntityException' },
  /** A query ran past its time limit (it was interrupted). */
  QUERY_TIMEOUT: { status: 408, type: 'QueryTimeoutException' },
  /** A query needed more memory than its limit (DuckDB `memory_limit`). */
  QUERY_MEMORY_LIMIT: { status: 422, type: 'QueryMemoryLimitException' },
  /** Data-quality checks failed (a scheduled quality run whose policy fails on them). */
  QUALITY_CHECKS_FAILED: { status: 422, type: 'DataQualityException' },
  /** A query was cancelled (DELETE /api/v1/queries/{id}). */
  QUERY_CANCELLED: { status: 409, type: 'QueryCancelledException' },
  /** Missing or bad credentials (sent with `WWW-Authenticate`). */
  UNAUTHENTICATED: { status: 401, type: 'NotAuthorizedException' },
  /** Authenticated, but not allowed. */
  FORBIDDEN: { status: 403, type: 'ForbiddenException' },
  /** An encrypted table (or an encrypted catalog secret) needs a master key and none is configured. */
  ENCRYPTION_NOT_CONFIGURED: { status: 503, type: 'ServiceUnavailableException' },
  /** A key was wrapped by a master key that is not configured, or failed authentication. */
  ENCRYPTION_KEY_MISMATCH: { status: 503, type: 'ServiceUnavailableException' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorDetails {
  /** The file the error is about (metadata, manifest, data file). */
  file?: string;
  [key: string]: unknown;
}

export class LakehouseError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(details.file && !message.includes(details.file) ? `${message} (file: ${details.file})` : message, options);
    this.name = 'LakehouseError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  get type(): string {
    return ERRORS[this.code].type;
  }

  toWire(): { error: { message: string; type: string; code: number } } {
    return { error: { message: this.message, type: this.type, code: this.status } };
  }
}

export function lakehouseError(code: ErrorCode, message: string, details?: ErrorDetails, cause?: unknown): LakehouseError {
  return new LakehouseError(code, message, details, cause === undefined ? undefined : { cause });
}

export function isLakehouseError(e: unknown, code?: ErrorCode): e is LakehouseError {
  return e instanceof LakehouseError && (code === undefined || e.code === code);
}
