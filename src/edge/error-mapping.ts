import { type ErrorCode, isWardError, type OperationOutcome, outcomeForError, WardError } from '../fhir/index.js';

/** Fastify's own errors, by code, to Ward's registry. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'WARD_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'WARD_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'WARD_INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'WARD_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'WARD_MALFORMED_JSON',
  FST_ERR_BAD_URL: 'WARD_INVALID_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'WARD_INVALID_REQUEST',
};

/**
 * Maps any thrown value to a registered error. This is the only place errors become
 * OperationOutcomes; unknown errors are 500 with a fixed body (their detail goes to the log).
 */
export function toWardError(error: unknown): WardError {
  if (isWardError(error)) return error;
  const code = (error as { code?: string } | null)?.code;
  if (code && FASTIFY_CODES[code]) return new WardError(FASTIFY_CODES[code], { cause: error });
  // A JSON syntax error's message quotes the body, so it is never passed on.
  if (error instanceof SyntaxError) return new WardError('WARD_MALFORMED_JSON', { cause: error });
  const status = (error as { statusCode?: number } | null)?.statusCode;
  if (status === 413) return new WardError('WARD_BODY_TOO_LARGE', { cause: error });
  if (status === 415) return new WardError('WARD_UNSUPPORTED_MEDIA_TYPE', { cause: error });
  if (status === 400) return new WardError('WARD_INVALID_REQUEST', { cause: error });
  return new WardError('WARD_INTERNAL', { cause: error });
}

export function outcomeOf(error: WardError): OperationOutcome {
  return outcomeForError(error.code, error.details);
}
