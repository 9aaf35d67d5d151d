import { WardError } from './errors.js';
import { type Criterion, parseSearch } from './search-request.js';

/**
 * The condition of a conditional create, update or delete, or of a conditional reference inside a
 * Bundle (`Patient?identifier=…`): the same criteria FHIR search parses, so any search parameter
 * can select the target. Lenient handling is never applied: a condition that silently dropped a
 * parameter would match the wrong resource.
 */
export interface ConditionalCriteria {
  readonly criteria: readonly Criterion[];
  /** The query with identifying values replaced by parameter names, for the audit entry. */
  readonly auditQuery: string;
}

export function parseConditional(resourceType: string, query: URLSearchParams, now: Date): ConditionalCriteria {
  const request = parseSearch(resourceType, query, { lenient: false, now });
  if (request.criteria.length === 0) {
    // Control parameters alone (or nothing) would match every resource of the type.
    throw new WardError('WARD_INVALID_REQUEST', {
      details: [{ diagnostics: 'A conditional interaction needs at least one search criterion' }],
    });
  }
  return { criteria: request.criteria, auditQuery: request.auditQuery };
}
