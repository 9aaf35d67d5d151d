/**
 * One registry of Ward's stable error codes. Each code fixes its HTTP status, its
 * OperationOutcome issue code, and a public text that never carries PHI (invariant 5).
 * Errors are thrown in any layer and mapped to an OperationOutcome only at the edge.
 */
export const ERROR_CODES = {
  WARD_UNAUTHENTICATED: { status: 401, issue: 'login', text: 'Authentication is required.' },
  WARD_POLICY_DENIED: { status: 403, issue: 'forbidden', text: 'Access denied by policy.' },
  WARD_NOT_FOUND: { status: 404, issue: 'not-found', text: 'Resource not found.' },
  WARD_UNKNOWN_TYPE: { status: 404, issue: 'not-supported', text: 'Unknown resource type.' },
  WARD_ROUTE_NOT_FOUND: { status: 404, issue: 'not-found', text: 'No such endpoint.' },
  WARD_GONE: { status: 410, issue: 'deleted', text: 'Resource has been deleted.' },
  WARD_METHOD_NOT_ALLOWED: { status: 405, issue: 'not-supported', text: 'Method not allowed.' },
  WARD_NOT_ACCEPTABLE: { status: 406, issue: 'not-supported', text: 'Only JSON (application/fhir+json) is supported.' },
  WARD_MALFORMED_JSON: { status: 400, issue: 'structure', text: 'The request body is not valid JSON.' },
  WARD_INVALID_RESOURCE: { status: 400, issue: 'invalid', text: 'The resource is not valid.' },
  WARD_INVALID_REQUEST: { status: 400, issue: 'invalid', text: 'The request is not valid.' },
  WARD_UNKNOWN_PARAMETER: { status: 400, issue: 'not-supported', text: 'Unknown or unsupported parameter.' },
  WARD_INVALID_PATCH: { status: 400, issue: 'invalid', text: 'The patch cannot be applied.' },
  WARD_ID_MISMATCH: { status: 400, issue: 'invalid', text: 'The resource id does not match the URL.' },
  WARD_VERSION_CONFLICT: { status: 412, issue: 'conflict', text: 'Version conflict: If-Match does not match the current version.' },
  WARD_CONDITION_MULTIPLE: { status: 412, issue: 'multiple-matches', text: 'The condition matches more than one resource.' },
  WARD_CONDITION_NO_MATCH: { status: 412, issue: 'not-found', text: 'The conditional reference matches no resource.' },
  WARD_INVALID_BUNDLE: { status: 400, issue: 'invalid', text: 'The Bundle cannot be processed as a transaction or batch.' },
  WARD_CONFLICT: { status: 409, issue: 'conflict', text: 'The resource was changed concurrently; retry.' },
  WARD_ALREADY_REVIEWED: { status: 409, issue: 'conflict', text: 'This break-glass grant was already reviewed.' },
  WARD_CLIENT_SUSPENDED: {
    status: 409,
    issue: 'conflict',
    text: 'A suspended client cannot be approved; review it and register it again (new client id).',
  },
  WARD_BREAK_GLASS_DISABLED: { status: 403, issue: 'forbidden', text: 'Break-glass is disabled for your organization.' },
  WARD_PRECONDITION_REQUIRED: {
    status: 428,
    issue: 'required',
    text: 'This change needs an If-Match header naming the version it replaces.',
  },
  WARD_BODY_TOO_LARGE: { status: 413, issue: 'too-costly', text: 'The request body is too large.' },
  WARD_UNSUPPORTED_MEDIA_TYPE: { status: 415, issue: 'not-supported', text: 'Unsupported media type; send application/fhir+json.' },
  WARD_UNPROCESSABLE: { status: 422, issue: 'processing', text: 'The request cannot be processed.' },
  WARD_RATE_LIMITED: { status: 429, issue: 'throttled', text: 'Too many requests.' },
  WARD_LOGIN_FAILED: { status: 401, issue: 'login', text: 'The username or password is not correct.' },
  WARD_LOGIN_THROTTLED: { status: 429, issue: 'throttled', text: 'Too many failed logins; try again after the time in Retry-After.' },
  WARD_MFA_FAILED: { status: 401, issue: 'login', text: 'The verification code is not correct.' },
  WARD_STEP_UP_REQUIRED: {
    status: 401,
    issue: 'login',
    text: 'This operation needs a recent second factor: step up with POST /auth/step-up, then retry.',
  },
  WARD_STEP_UP_UNAVAILABLE: {
    status: 403,
    issue: 'forbidden',
    text: 'This operation needs a second factor, which this credential cannot prove; use a web session.',
  },
  WARD_CSRF_FAILED: { status: 403, issue: 'forbidden', text: 'The request lacks the anti-forgery token of its session.' },
  WARD_PASSWORD_CHANGE_REQUIRED: {
    status: 403,
    issue: 'forbidden',
    text: 'The password of this account must be changed first: POST /auth/password, or log out.',
  },
  WARD_ENROLLMENT_INVALID: { status: 400, issue: 'invalid', text: 'The enrollment code is not valid, was already used, or has expired.' },
  WARD_PASSWORD_REJECTED: { status: 400, issue: 'invalid', text: 'The password does not meet the password policy.' },
  WARD_USERNAME_TAKEN: { status: 409, issue: 'duplicate', text: 'That username is already taken.' },
  WARD_INTEGRITY_FAILURE: { status: 500, issue: 'exception', text: 'Stored data failed its integrity check.' },
  WARD_INTERNAL: { status: 500, issue: 'exception', text: 'Internal error.' },
  WARD_AUDIT_UNAVAILABLE: { status: 503, issue: 'transient', text: 'Audit log unavailable; the request was not performed.' },
  WARD_UNAVAILABLE: { status: 503, issue: 'transient', text: 'Service unavailable.' },
} as const satisfies Record<string, { status: number; issue: string; text: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A detail that may leave the server: a FHIRPath expression and a PHI-free explanation. */
export interface ErrorDetail {
  readonly expression?: string;
  readonly diagnostics: string;
  readonly severity?: 'fatal' | 'error' | 'warning' | 'information';
  readonly code?: string;
}

export class WardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Details are PHI-free by construction (paths, parameter names, definition facts). */
  readonly details: readonly ErrorDetail[];

  constructor(code: ErrorCode, options: { details?: readonly ErrorDetail[]; cause?: unknown } = {}) {
    super(ERROR_CODES[code].text, { cause: options.cause });
    this.name = 'WardError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details ?? [];
  }
}

export function isWardError(e: unknown): e is WardError {
  return e instanceof WardError;
}
