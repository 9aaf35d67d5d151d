import { isResourceType } from './definitions.js';
import { WardError } from './errors.js';
import { isFhirId } from './resource.js';
import { MAX_MS, MIN_MS, parseFhirDate } from './search-dates.js';

/**
 * Where a `$everything` page starts: the first page (with the Patient itself), or after the last
 * resource of the previous page — in the patient's compartment (phase 1) or among the resources
 * that compartment references (phase 2), each in (type, id) order.
 */
export type EverythingCursor =
  | { readonly phase: 'first' }
  | { readonly phase: 1 | 2; readonly after?: { readonly type: string; readonly id: string } };

/** `Patient/{id}/$everything` (R4 OperationDefinition Patient-everything), parsed. */
export interface EverythingRequest {
  /** `_type`: only these resource types; undefined means every type. */
  readonly types?: readonly string[];
  /** `_since`: only resources whose lastUpdated is at or after this instant. */
  readonly since?: Date;
  /** `start`/`end`: care dates overlapping [low, high) in UTC ms; undefined when neither was given. */
  readonly care?: { readonly low: number; readonly high: number };
  readonly count?: number;
  readonly cursor: EverythingCursor;
  /** Parameters applied, for the Bundle's links (without the cursor). */
  readonly applied: readonly (readonly [string, string])[];
  /** Names of parameters ignored under `Prefer: handling=lenient`. */
  readonly ignored: readonly string[];
  /** The query for the audit entry; none of these parameters identifies a person. */
  readonly auditQuery: string;
}

/** The cursor's parameter in `next` links (Ward's own; opaque to clients). */
export const EVERYTHING_CURSOR = '_page';
/** Parameters that only shape the transport, accepted and not echoed. */
const TRANSPORT = new Set(['_format', '_pretty']);

/**
 * Parses the operation's parameters: `start`, `end` (dates), `_since` (instant), `_type` (repeatable,
 * comma-separated types), `_count`, and Ward's paging cursor. Anything else is a 400, or with
 * `lenient` ignored and reported, as search does; a malformed value is always a 400.
 */
export function parseEverything(query: URLSearchParams, options: { lenient: boolean }): EverythingRequest {
  const applied: [string, string][] = [];
  const ignored: string[] = [];
  let types: string[] | undefined;
  let since: Date | undefined;
  let start: number | undefined;
  let end: number | undefined;
  let count: number | undefined;
  let cursor: EverythingCursor = { phase: 'first' };
  const once = new Set<string>();
  for (const [name, raw] of query) {
    if (TRANSPORT.has(name)) continue;
    if (['start', 'end', '_since', '_count', EVERYTHING_CURSOR].includes(name)) {
      if (once.has(name)) invalid(name, 'may be given only once');
      once.add(name);
    }
    switch (name) {
      case 'start':
        start = dateOf(name, raw).low;
        break;
      case 'end':
        end = dateOf(name, raw).high;
        break;
      case '_since':
        since = instantOf(raw);
        break;
      case '_type':
        types = [...(types ?? []), ...typesOf(raw)];
        break;
      case '_count':
        count = countOf(raw);
        break;
      case EVERYTHING_CURSOR:
        cursor = cursorOf(raw);
        continue;
      default:
        if (!options.lenient) {
          throw new WardError('WARD_UNKNOWN_PARAMETER', {
            details: [{ diagnostics: `Parameter is unknown or not supported by Patient/$everything: ${safeName(name)}` }],
          });
        }
        ignored.push(safeName(name));
        continue;
    }
    applied.push([name, raw]);
  }
  if (start !== undefined && end !== undefined && start >= end) invalid('start', 'must be before end');
  return {
    ...(types ? { types: [...new Set(types)] } : {}),
    ...(since ? { since } : {}),
    ...(start !== undefined || end !== undefined ? { care: { low: start ?? MIN_MS, high: end ?? MAX_MS } } : {}),
    ...(count !== undefined ? { count } : {}),
    cursor,
    applied,
    ignored,
    auditQuery: applied.map(([k, v]) => `${k}=${v}`).join('&'),
  };
}

/** The cursor as the `next` link carries it: `<phase>` or `<phase>:<type>/<id>`. */
export function formatEverythingCursor(cursor: EverythingCursor): string | undefined {
  if (cursor.phase === 'first') return undefined;
  return cursor.after ? `${cursor.phase}:${cursor.after.type}/${cursor.after.id}` : String(cursor.phase);
}

function cursorOf(raw: string): EverythingCursor {
  const m = /^([12])(?::([A-Za-z]+)\/([^/]+))?$/.exec(raw);
  const phase = m?.[1] === '1' ? 1 : 2;
  if (!m) return invalid(EVERYTHING_CURSOR, 'is not a cursor this server issued');
  if (m[2] === undefined) return { phase };
  if (!isResourceType(m[2]) || !isFhirId(m[3] as string)) return invalid(EVERYTHING_CURSOR, 'is not a cursor this server issued');
  return { phase, after: { type: m[2], id: m[3] as string } };
}

function dateOf(name: string, raw: string): { low: number; high: number } {
  const range = parseFhirDate(raw);
  if (!range) return invalid(name, 'must be a FHIR date');
  return range;
}

function instantOf(raw: string): Date {
  const range = /T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(raw) ? parseFhirDate(raw) : undefined;
  if (!range) return invalid('_since', 'must be an instant (date, time and zone)');
  return new Date(range.low);
}

function typesOf(raw: string): string[] {
  const types = raw.split(',').map((t) => t.trim());
  for (const t of types) if (!isResourceType(t)) invalid('_type', 'must name resource types');
  return types;
}

function countOf(raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) return invalid('_count', 'must be a positive integer');
  return n;
}

function invalid(name: string, why: string): never {
  throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${safeName(name)} ${why}` }] });
}

/** A parameter name may be echoed only if it looks like one; anything else could be data. */
function safeName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name) ? name : '(unprintable name)';
}
