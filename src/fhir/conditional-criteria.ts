import { WardError } from './errors.js';
import { hasIdentifierParameter } from './identifiers.js';
import { FHIR_ID } from './resource.js';

/** One `identifier` token: `system|value`, `|value` (no system) or `value` (any system). */
export interface IdentifierToken {
  readonly system: string | null;
  readonly value: string;
}

/**
 * Search criteria Ward can evaluate before the search issue lands: `_id` and `identifier`,
 * OR by comma and AND by repetition. Everything else is refused, never silently ignored, because a
 * conditional write that ignored a criterion would match the wrong resource.
 */
export interface Criteria {
  readonly ids?: readonly string[];
  /** Each inner list is an OR-group; groups are ANDed. */
  readonly identifiers: readonly (readonly IdentifierToken[])[];
  readonly count?: number;
}

export const CRITERIA_PARAMETERS = ['_id', 'identifier'] as const;
const CONTROL_PARAMETERS = new Set(['_count', '_format', '_pretty', '_summary', '_elements']);

export function parseCriteria(resourceType: string, query: URLSearchParams): Criteria {
  let ids: string[] | undefined;
  const identifiers: IdentifierToken[][] = [];
  let count: number | undefined;
  for (const [name, raw] of query) {
    if (name === '_id') {
      // A value that is not a FHIR id can match no resource; it never reaches the database.
      const list = raw.split(',').filter((v) => FHIR_ID.test(v));
      ids = ids ? ids.filter((i) => list.includes(i)) : list;
    } else if (name === 'identifier' && hasIdentifierParameter(resourceType)) {
      identifiers.push(raw.split(',').map(parseToken));
    } else if (name === '_count') {
      count = Number(raw);
      if (!Number.isInteger(count) || count < 0) throw invalid('_count', 'must be a non-negative integer');
    } else if (!CONTROL_PARAMETERS.has(name)) {
      throw new WardError('WARD_UNKNOWN_PARAMETER', {
        details: [{ diagnostics: `Search parameter is unknown or not supported on ${resourceType}: ${safeName(name)}` }],
      });
    }
  }
  return { ...(ids ? { ids } : {}), identifiers, ...(count !== undefined ? { count } : {}) };
}

export function isEmptyCriteria(c: Criteria): boolean {
  return c.ids === undefined && c.identifiers.length === 0;
}

function parseToken(raw: string): IdentifierToken {
  const bar = raw.indexOf('|');
  if (bar < 0) return { system: null, value: raw };
  return { system: raw.slice(0, bar), value: raw.slice(bar + 1) };
}

function invalid(name: string, why: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${name} ${why}` }] });
}

/** A parameter name may be echoed only if it looks like one; anything else could be data. */
function safeName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name) ? name : '(unprintable name)';
}
