import { isFhirId, isResourceType, WardError } from '../fhir/index.js';
import type { AuditFilter, AuditSort, AuditSortKey } from '../store/index.js';
import { AUDIT_ACTIONS, type AuditAction } from './audit-entry.js';
import { actionCodeOf } from './audit-event-view.js';
import { EXPORT_FORMATS, type ExportFormat } from './audit-export.js';

/**
 * Parses the auditor's query parameters (pure). AuditEvent search: `patient`, `agent`, `date`
 * (with `eq ge gt le lt` prefixes), `action` (a Ward action or an AuditEvent action code C R U D
 * E), `outcome` (0 4 8 12, or success failure error), `entity` (`Type/id`), `_count`, `_sort`,
 * `_page`. A comma is OR, a repeated parameter is AND. Anything else is refused, never ignored:
 * an ignored criterion would widen the result an auditor relies on. Diagnostics name parameters,
 * never values (a value may be an identifier).
 */
export interface AuditSearch {
  readonly filter: AuditFilter;
  readonly sort: readonly AuditSort[];
  readonly count: number;
  /** A later page: the snapshot (highest sequence number) of the first page, and the offset. */
  readonly page?: { readonly snapshot: number; readonly offset: number };
  /** The parameter names used, recorded in the audit entry of the search (never their values). */
  readonly parameters: readonly string[];
}

export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_AUDIT_PAGE = 1000;

const SEARCH_PARAMETERS = new Set(['patient', 'agent', 'date', 'action', 'outcome', 'entity', '_count', '_sort', '_page', '_format']);
const SORT_KEYS: ReadonlySet<string> = new Set<AuditSortKey>(['date', 'agent', 'patient', 'action', 'outcome']);
const OUTCOMES: Readonly<Record<string, readonly string[]>> = {
  '0': ['success'],
  '4': ['failure'],
  '8': ['error'],
  // Ward records no major failure (12): such a query matches nothing.
  '12': [],
  success: ['success'],
  failure: ['failure'],
  error: ['error'],
};
const PRINCIPAL_ID = /^[A-Za-z0-9:._/-]{1,200}$/;

export function parseAuditSearch(query: URLSearchParams): AuditSearch {
  const patients: string[][] = [];
  const principals: string[][] = [];
  const actions: string[][] = [];
  const outcomes: string[][] = [];
  const entities: { type: string; id: string }[][] = [];
  let range: DateRange = {};
  let sort: AuditSort[] = [{ key: 'date', descending: false }];
  let count = DEFAULT_AUDIT_PAGE;
  let page: AuditSearch['page'];
  for (const [name, raw] of query) {
    if (!SEARCH_PARAMETERS.has(name)) {
      throw new WardError('WARD_UNKNOWN_PARAMETER', {
        details: [{ diagnostics: `Search parameter is unknown or not supported on AuditEvent: ${safeName(name)}` }],
      });
    }
    if (raw === '') throw invalid(name, 'must not be empty');
    const values = raw.split(',');
    switch (name) {
      case 'patient':
        patients.push(values.map(patientIdOf));
        break;
      case 'agent':
        principals.push(values.map((v) => (PRINCIPAL_ID.test(v) ? v : fail('agent', 'must be a principal id'))));
        break;
      case 'action':
        actions.push(values.flatMap(actionsOf));
        break;
      case 'outcome':
        outcomes.push(values.flatMap((v) => OUTCOMES[v] ?? fail('outcome', 'must be 0, 4, 8, 12, success, failure or error')));
        break;
      case 'entity':
        entities.push(values.map(entityOf));
        break;
      case 'date':
        if (values.length > 1) throw invalid('date', 'takes one value; repeat the parameter for a range');
        range = narrow(range, raw);
        break;
      case '_count':
        count = countOf(raw);
        break;
      case '_sort':
        sort = values.map(sortOf);
        break;
      case '_page':
        page = pageOf(raw);
        break;
      case '_format':
        // JSON is the only format; the edge answers 406 for any other.
        break;
    }
  }
  const filter: AuditFilter = {
    ...(patients.length ? { patients } : {}),
    ...(principals.length ? { principals } : {}),
    ...(actions.length ? { actions } : {}),
    ...(outcomes.length ? { outcomes } : {}),
    ...(entities.length ? { entities } : {}),
    ...(range.from ? { from: range.from } : {}),
    ...(range.before ? { before: range.before } : {}),
  };
  return { filter, sort, count, ...(page ? { page } : {}), parameters: [...new Set(query.keys())].sort() };
}

/** The query string that reproduces a search (for self and next links), with a page. */
export function auditSearchQuery(query: URLSearchParams, page?: { snapshot: number; offset: number }): string {
  const kept = new URLSearchParams([...query].filter(([k]) => k !== '_page'));
  if (page) kept.set('_page', `${page.snapshot}.${page.offset}`);
  return kept.toString();
}

export interface DateRange {
  /** Inclusive. */
  readonly from?: Date;
  /** Exclusive. */
  readonly before?: Date;
}

/**
 * `from` and `to` of a report: `from` counts from the start of its precision, `to` up to the end
 * of its precision (`to=2024-03-31` includes that whole day). Times without a zone are UTC.
 */
export function parseWindow(from: string | null, to: string | null): DateRange {
  return {
    ...(from !== null ? { from: rangeOf('from', from).start } : {}),
    ...(to !== null ? { before: rangeOf('to', to).end } : {}),
  };
}

export function parseExportFormat(raw: string | null): ExportFormat {
  if (raw === null) return 'ndjson';
  if ((EXPORT_FORMATS as readonly string[]).includes(raw)) return raw as ExportFormat;
  throw invalid('format', 'must be ndjson, csv or bundle');
}

/** Refuses any query parameter outside `allowed` (report endpoints). */
export function checkParameters(query: URLSearchParams, allowed: readonly string[]): void {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      throw new WardError('WARD_UNKNOWN_PARAMETER', { details: [{ diagnostics: `Unknown parameter: ${safeName(name)}` }] });
    }
  }
}

/** A patient given as `id` or `Patient/id`. */
export function patientIdOf(raw: string): string {
  const id = raw.startsWith('Patient/') ? raw.slice('Patient/'.length) : raw;
  return isFhirId(id) ? id : fail('patient', 'must be a Patient id');
}

export function principalIdOf(name: string, raw: string): string {
  return PRINCIPAL_ID.test(raw) ? raw : fail(name, 'must be a principal id such as Practitioner/123');
}

function actionsOf(raw: string): AuditAction[] {
  if ((AUDIT_ACTIONS as readonly string[]).includes(raw)) return [raw as AuditAction];
  if (/^[CRUDE]$/.test(raw)) return AUDIT_ACTIONS.filter((a) => actionCodeOf(a) === raw);
  return fail('action', `must be one of ${AUDIT_ACTIONS.join(', ')}, or C, R, U, D, E`);
}

function entityOf(raw: string): { type: string; id: string } {
  const slash = raw.indexOf('/');
  const type = raw.slice(0, slash);
  const id = raw.slice(slash + 1);
  if (slash < 1 || !isResourceType(type) || !isFhirId(id)) return fail('entity', 'must be a reference Type/id');
  return { type, id };
}

function sortOf(raw: string): AuditSort {
  const descending = raw.startsWith('-');
  const key = descending ? raw.slice(1) : raw;
  if (!SORT_KEYS.has(key)) throw invalid('_sort', 'must name date, agent, patient, action or outcome, each optionally prefixed with -');
  return { key: key as AuditSortKey, descending };
}

function countOf(raw: string): number {
  const n = Number(raw);
  if (!/^\d{1,9}$/.test(raw) || n < 1) throw invalid('_count', 'must be a positive integer');
  return Math.min(n, MAX_AUDIT_PAGE);
}

function pageOf(raw: string): { snapshot: number; offset: number } {
  const m = /^(\d{1,15})\.(\d{1,9})$/.exec(raw);
  if (!m) throw invalid('_page', 'must be a page token taken from a next link');
  return { snapshot: Number(m[1]), offset: Number(m[2]) };
}

/** Narrows a date range by one `date` value with its prefix (FHIR R4 search §3.1.1.5.6). */
function narrow(range: DateRange, raw: string): DateRange {
  const m = /^(eq|ge|gt|le|lt)?(.+)$/.exec(raw);
  const prefix = m?.[1] ?? 'eq';
  const { start, end } = rangeOf('date', m?.[2] ?? raw);
  const later = (a: Date | undefined, b: Date) => (a && a > b ? a : b);
  const earlier = (a: Date | undefined, b: Date) => (a && a < b ? a : b);
  switch (prefix) {
    case 'ge':
      return { ...range, from: later(range.from, start) };
    case 'gt':
      return { ...range, from: later(range.from, end) };
    case 'le':
      return { ...range, before: earlier(range.before, end) };
    case 'lt':
      return { ...range, before: earlier(range.before, start) };
    default:
      return { from: later(range.from, start), before: earlier(range.before, end) };
  }
}

const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The instants a date or dateTime value covers: [start, end) at the value's precision. */
function rangeOf(name: string, raw: string): { start: Date; end: Date } {
  const m = DATE_TIME.exec(raw);
  if (!m) throw invalid(name, 'must be a date (YYYY, YYYY-MM, YYYY-MM-DD) or a dateTime');
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) : 1;
  const day = d ? Number(d) : 1;
  const hour = h ? Number(h) : 0;
  const minute = mi ? Number(mi) : 0;
  const second = s ? Number(s) : 0;
  const ms = frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const probe = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  if (
    month < 1 ||
    month > 12 ||
    probe.getUTCDate() !== day ||
    probe.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    throw invalid(name, 'is not a valid date');
  }
  const offsetMs =
    zone && zone !== 'Z' ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000 : 0;
  const start = new Date(probe.getTime() - offsetMs);
  const end = new Date(start);
  if (!mo) end.setUTCFullYear(end.getUTCFullYear() + 1);
  else if (!d) end.setUTCMonth(end.getUTCMonth() + 1);
  else if (!h) end.setUTCDate(end.getUTCDate() + 1);
  else if (!s) end.setUTCMinutes(end.getUTCMinutes() + 1);
  else if (!frac) end.setUTCSeconds(end.getUTCSeconds() + 1);
  else end.setUTCMilliseconds(end.getUTCMilliseconds() + 1);
  return { start, end };
}

function invalid(name: string, why: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${name} ${why}` }] });
}

function fail(name: string, why: string): never {
  throw invalid(name, why);
}

/** A parameter name may be echoed only if it looks like one; anything else could be data. */
function safeName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name) ? name : '(unprintable name)';
}
