import { isResourceType } from './definitions.js';
import { WardError } from './errors.js';
import { compositePlan } from './search-composite.js';
import { type DateRange, parseFhirDate } from './search-dates.js';
import { indexedParameter, PERSON_TYPES, referenceOf, type TokenLookup } from './search-extraction.js';
import { type IncludeSpec, parseInclude } from './search-includes.js';
import { searchParameter } from './search-parameters.js';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
const PREFIXES: readonly Prefix[] = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'];

export interface DateTest {
  readonly op: Prefix;
  readonly range: DateRange;
}
/** A number test: the value, and the range it stands for at its precision (or ±10% for ap). */
export interface NumberTest {
  readonly op: Prefix;
  readonly value: number;
  readonly low: number;
  readonly high: number;
  readonly system: string | null;
  readonly code: string | null;
}
/** `system|code` (both), `|code` (system null), `code` (system undefined), `system|` (code undefined). */
export interface TokenTest {
  readonly system: string | null | undefined;
  readonly code: string | undefined;
}

/** One criterion (an OR-group of values); a search's criteria are ANDed. */
export type Criterion =
  | {
      readonly kind: 'token';
      readonly param: string;
      readonly not: boolean;
      readonly values: readonly TokenTest[];
      /** Which index table(s) the parameter's values live in (search-extraction decides per element type). */
      readonly lookup: TokenLookup;
    }
  | { readonly kind: 'string'; readonly param: string; readonly exact: boolean; readonly values: readonly string[] }
  | { readonly kind: 'date'; readonly param: string; readonly blind: boolean; readonly values: readonly DateTest[] }
  | { readonly kind: 'reference'; readonly param: string; readonly values: readonly { targetType: string | null; targetId: string }[] }
  | { readonly kind: 'number'; readonly param: string; readonly values: readonly NumberTest[] }
  /** `exact`, or (R4 §3.1.1.5.8) `below`: the stored uri starts with a value; `above`: a value starts with the stored uri. */
  | { readonly kind: 'uri'; readonly param: string; readonly match: 'exact' | 'above' | 'below'; readonly values: readonly string[] }
  | { readonly kind: 'missing'; readonly param: string; readonly paramType: string; readonly missing: boolean }
  | { readonly kind: 'id'; readonly values: readonly string[] }
  | { readonly kind: 'lastUpdated'; readonly values: readonly DateTest[] }
  /** `param[:Type].inner=…` (R4 §3.1.1.5.5): the reference points to a resource of one of `targets` matching its criterion. */
  | { readonly kind: 'chain'; readonly param: string; readonly targets: readonly { type: string; criterion: Criterion }[] }
  /**
   * `code-value-quantity=sys|code$gt100` (R4 §3.1.1.5.9): `values` are the OR-ed `$`-separated
   * tuples, one criterion per component; `prefilter` is each component on its own (a superset the
   * store can answer from its indexes), and the pairing is confirmed on the resource.
   */
  | {
      readonly kind: 'composite';
      readonly param: string;
      readonly values: readonly (readonly Criterion[])[];
      readonly prefilter: readonly Criterion[];
    }
  /** `_has:Source:param:inner=…` (R4 §3.1.1.5.6): some Source matching `criterion` references the resource through `param`. */
  | { readonly kind: 'has'; readonly sourceType: string; readonly param: string; readonly criterion: Criterion };

export type SortKey = { readonly key: '_lastUpdated' | '_id' } | { readonly key: 'date'; readonly param: string };
export interface SortSpec {
  readonly by: SortKey;
  readonly descending: boolean;
}

export interface SearchRequest {
  readonly criteria: readonly Criterion[];
  readonly sort: readonly SortSpec[];
  readonly count: number | undefined;
  readonly offset: number;
  /**
   * `estimate` is answered like the default (a total only when every match was visited): an
   * estimate from unfiltered counts would count resources the caller may not see.
   */
  readonly total: 'none' | 'estimate' | 'accurate' | undefined;
  readonly summaryCount: boolean;
  /** `_include` and `_revinclude`, in the order given. */
  readonly includes: readonly IncludeSpec[];
  /** The parameters applied, as name/value pairs, for the Bundle's self link. */
  readonly applied: readonly (readonly [string, string])[];
  /** Names of parameters ignored under `Prefer: handling=lenient`. */
  readonly ignored: readonly string[];
  /** The query for the audit entry: identifying values replaced by the parameter's name. */
  readonly auditQuery: string;
}

/** Parameters that shape the response rather than select resources. */
const CONTROL = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_format', '_pretty', '_offset']);

/**
 * Parses a search (R4 §3.1.1) into criteria. An unknown or unsupported parameter, modifier or
 * value form is a 400 — or, with `lenient`, left out and reported — never silently widened.
 */
export function parseSearch(resourceType: string, query: URLSearchParams, options: { lenient: boolean; now: Date }): SearchRequest {
  const criteria: Criterion[] = [];
  const applied: [string, string][] = [];
  const ignored: string[] = [];
  const audit: string[] = [];
  let count: number | undefined;
  let offset = 0;
  let total: SearchRequest['total'];
  let summaryCount = false;
  let sort: SortSpec[] = [];
  const includes: IncludeSpec[] = [];
  for (const [name, raw] of query) {
    try {
      if (/^_(rev)?include(:|$)/.test(name)) {
        includes.push(parseInclude(resourceType, name, raw));
        applied.push([name, raw]);
        audit.push(`${name}=${raw}`);
        continue;
      }
      if (CONTROL.has(name)) {
        if (name === '_count') count = nonNegative(name, raw);
        else if (name === '_offset') offset = nonNegative(name, raw);
        else if (name === '_total')
          total = raw === 'accurate' || raw === 'none' || raw === 'estimate' ? raw : invalid(name, 'must be none, estimate or accurate');
        else if (name === '_summary' && raw === 'count') summaryCount = true;
        else if (name === '_sort') sort = parseSort(resourceType, raw);
        if (name !== '_offset') {
          applied.push([name, raw]);
          audit.push(`${name}=${raw}`);
        }
        continue;
      }
      const criterion = parseCriterion(resourceType, name, raw, options.now, 0);
      criteria.push(criterion);
      applied.push([name, raw]);
      audit.push(`${name}=${identifying(resourceType, criterion) ? `[${auditName(criterion, name)}]` : raw}`);
    } catch (e) {
      if (!options.lenient || !(e instanceof WardError) || e.code !== 'WARD_UNKNOWN_PARAMETER') throw e;
      ignored.push(safeName(name));
    }
  }
  return { criteria, sort, count, offset, total, summaryCount, includes, applied, ignored, auditQuery: audit.join('&') };
}

/**
 * Values the audit entry must not carry: strings, tokens that reach an Identifier or ContactPoint,
 * person dates — and a chained or `_has` criterion whose inner value is one of those, judged on the
 * type the inner criterion searches.
 */
function identifying(resourceType: string, c: Criterion): boolean {
  if (c.kind === 'string') return true;
  if (c.kind === 'date') return c.blind;
  if (c.kind === 'token') return indexedParameter(resourceType, c.param)?.identifying ?? true;
  if (c.kind === 'chain') return c.targets.some((t) => identifying(t.type, t.criterion));
  if (c.kind === 'has') return identifying(c.sourceType, c.criterion);
  if (c.kind === 'composite') return c.prefilter.some((p) => identifying(resourceType, p));
  return false;
}

/** The name the audit query shows for a withheld value: the parameter without its modifier, or the whole (validated) chain. */
function auditName(c: Criterion, name: string): string {
  return c.kind === 'chain' || c.kind === 'has' ? name : (name.split(':')[0] as string);
}

/** Chains and `_has` nest at most this deep (`subject.organization.name` is two). */
const MAX_CHAIN_DEPTH = 2;

function parseCriterion(resourceType: string, name: string, raw: string, now: Date, depth: number): Criterion {
  if (name.startsWith('_has:')) return parseHas(resourceType, name, raw, now, depth);
  if (name.includes('.')) return parseChain(resourceType, name, raw, now, depth);
  const [param = '', modifier] = name.split(':', 2) as [string, string | undefined];
  const values = splitValues(raw);
  if (param === '_id' && modifier === undefined) return { kind: 'id', values };
  if (param === '_lastUpdated' && modifier === undefined) return { kind: 'lastUpdated', values: values.map((v) => dateTest(name, v, now)) };
  const planned = indexedParameter(resourceType, param);
  if (!planned) {
    if (modifier === undefined && compositePlan(resourceType, param)) return parseComposite(resourceType, param, raw, now, depth);
    throw unknown(resourceType, name);
  }
  if (modifier === 'missing') {
    if (raw !== 'true' && raw !== 'false') invalid(name, 'must be true or false');
    return { kind: 'missing', param, paramType: planned.type, missing: raw === 'true' };
  }
  switch (planned.type) {
    case 'token':
      // `:text` is a starts-with string search on the display text, indexed blind under `param:text`.
      if (modifier === 'text') return { kind: 'string', param: `${param}:text`, exact: false, values };
      if (modifier === 'of-type') {
        return { kind: 'token', param: `${param}:of-type`, not: false, values: values.map((v) => ofTypeTest(name, v)), lookup: 'blind' };
      }
      if (modifier === 'in' || modifier === 'not-in' || modifier === 'above' || modifier === 'below') throw needsTerminology(name);
      if (modifier !== undefined && modifier !== 'not') throw unknown(resourceType, name);
      return { kind: 'token', param, not: modifier === 'not', values: values.map(tokenTest), lookup: planned.tokenLookup ?? 'both' };
    case 'string':
      if (modifier === 'contains') throw containsRefused(name);
      if (modifier !== undefined && modifier !== 'exact') throw unknown(resourceType, name);
      return { kind: 'string', param, exact: modifier === 'exact', values };
    case 'date':
      if (modifier !== undefined) throw unknown(resourceType, name);
      return { kind: 'date', param, blind: PERSON_TYPES.has(resourceType), values: values.map((v) => dateTest(name, v, now)) };
    case 'reference':
      // `:identifier` compares Reference.identifier, an Identifier: blind, under `param:identifier`.
      if (modifier === 'identifier') {
        return { kind: 'token', param: `${param}:identifier`, not: false, values: values.map(tokenTest), lookup: 'blind' };
      }
      if (modifier !== undefined && !isResourceType(modifier)) throw unknown(resourceType, name);
      return { kind: 'reference', param, values: values.map((v) => referenceTest(name, v, modifier)) };
    case 'number':
    case 'quantity':
      if (modifier !== undefined) throw unknown(resourceType, name);
      return { kind: 'number', param, values: values.map((v) => numberTest(name, v, now)) };
    case 'uri':
      if (modifier !== undefined && modifier !== 'above' && modifier !== 'below') throw unknown(resourceType, name);
      return { kind: 'uri', param, match: modifier ?? 'exact', values };
    default:
      throw unknown(resourceType, name);
  }
}

/**
 * `subject:Patient.name=…` or `subject.name=…`: without a type modifier, every target type of the
 * reference parameter that has the inner parameter is searched (R4 §3.1.1.5.5).
 */
function parseChain(resourceType: string, name: string, raw: string, now: Date, depth: number): Criterion {
  const dot = name.indexOf('.');
  const [param = '', typeModifier] = name.slice(0, dot).split(':', 2) as [string, string | undefined];
  const rest = name.slice(dot + 1);
  if (depth >= MAX_CHAIN_DEPTH || indexedParameter(resourceType, param)?.type !== 'reference') throw unknown(resourceType, name);
  if (typeModifier !== undefined && !isResourceType(typeModifier)) throw unknown(resourceType, name);
  const candidates = typeModifier !== undefined ? [typeModifier] : (searchParameter(resourceType, param)?.target ?? []);
  const targets: { type: string; criterion: Criterion }[] = [];
  for (const type of candidates) {
    try {
      targets.push({ type, criterion: parseCriterion(type, rest, raw, now, depth + 1) });
    } catch (e) {
      // A target type without the inner parameter is skipped, unless it was asked for by name.
      if (typeModifier !== undefined || !(e instanceof WardError) || e.code !== 'WARD_UNKNOWN_PARAMETER') throw e;
    }
  }
  if (targets.length === 0) throw unknown(resourceType, name);
  return { kind: 'chain', param, targets };
}

/** `_has:Observation:patient:code=…`: the resource is referenced through `patient` by an Observation with that code. */
function parseHas(resourceType: string, name: string, raw: string, now: Date, depth: number): Criterion {
  const [, sourceType = '', param = '', ...inner] = name.split(':');
  if (depth >= MAX_CHAIN_DEPTH || inner.length === 0 || !isResourceType(sourceType)) throw unknown(resourceType, name);
  const target = searchParameter(sourceType, param);
  if (indexedParameter(sourceType, param)?.type !== 'reference' || (target?.target && !target.target.includes(resourceType))) {
    throw unknown(resourceType, name);
  }
  return { kind: 'has', sourceType, param, criterion: parseCriterion(sourceType, inner.join(':'), raw, now, depth + 1) };
}

function parseComposite(resourceType: string, param: string, raw: string, now: Date, depth: number): Criterion {
  const plan = compositePlan(resourceType, param);
  const codes = plan?.parts[0]?.components.map((c) => c.code) ?? [];
  const values = splitValues(raw).map((v) => {
    const parts = v.split('$');
    if (parts.length !== codes.length) return invalid(param, `takes ${codes.length} values separated by $`);
    return parts.map((part, i) => parseCriterion(resourceType, codes[i] as string, part, now, depth + 1));
  });
  if (values.length === 0) return invalid(param, 'needs a value');
  // Each component on its own, its values from every tuple OR-ed: what the indexes can answer.
  const prefilter = codes.map((_, i) => mergeValues(values.map((tuple) => tuple[i] as Criterion)));
  return { kind: 'composite', param, values, prefilter };
}

/** Criteria of one parameter (same kind, no modifier) as one criterion whose values are all of theirs. */
function mergeValues(criteria: Criterion[]): Criterion {
  const [first, ...rest] = criteria as [Criterion, ...Criterion[]];
  if (!('values' in first)) return first;
  const values: unknown[] = [...first.values, ...rest.flatMap((c): readonly unknown[] => ('values' in c ? c.values : []))];
  return { ...first, values } as Criterion;
}

/** Splits on commas not escaped with a backslash (R4 §3.1.1.5.7), unescaping `\,` `\|` `\$` `\\`. */
function splitValues(raw: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as string;
    if (ch === '\\' && i + 1 < raw.length) {
      current += raw[++i];
    } else if (ch === ',') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.filter((v) => v !== '');
}

function tokenTest(v: string): TokenTest {
  const bar = v.indexOf('|');
  if (bar < 0) return { system: undefined, code: v };
  const system = v.slice(0, bar);
  const code = v.slice(bar + 1);
  return { system: system === '' ? null : system, code: code === '' ? undefined : code };
}

/** `identifier:of-type=typeSystem|typeCode|value` (R4 §3.1.1.5.4): all three parts are required. */
function ofTypeTest(name: string, v: string): TokenTest {
  const [system, code, ...value] = v.split('|');
  if (!system || !code || value.length === 0 || value.join('|') === '') return invalid(name, 'must be typeSystem|typeCode|value');
  return { system, code: `${code}|${value.join('|')}` };
}

function prefixOf(v: string): { op: Prefix; rest: string } {
  const p = v.slice(0, 2) as Prefix;
  return PREFIXES.includes(p) && /^[a-z]{2}[-+\d]/.test(v) ? { op: p, rest: v.slice(2) } : { op: 'eq', rest: v };
}

function dateTest(name: string, v: string, now: Date): DateTest {
  const { op, rest } = prefixOf(v);
  const range = parseFhirDate(rest);
  if (!range) return invalid(name, 'must be a FHIR date, optionally with a prefix (eq, ne, lt, gt, le, ge, sa, eb, ap)');
  if (op !== 'ap') return { op, range };
  // ap: within 10% of the distance from now, at least the value's own precision (R4 §3.1.1.4.2).
  const slack = Math.abs(now.getTime() - range.low) * 0.1;
  return { op, range: { ...range, low: range.low - slack, high: range.high + slack } };
}

function numberTest(name: string, v: string, _now: Date): NumberTest {
  const { op, rest } = prefixOf(v);
  const [number = '', system, code] = rest.split('|');
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(number)) return invalid(name, 'must be a number, optionally with a prefix');
  const value = Number(number);
  const decimals = /\.(\d+)/.exec(number.split(/[eE]/)[0] ?? '')?.[1]?.length ?? 0;
  // A value stands for the range of its significant digits: 100 is [99.5, 100.5), 1.50 is [1.495, 1.505).
  const half = op === 'ap' ? Math.abs(value) * 0.1 : 0.5 * 10 ** -decimals;
  return {
    op,
    value,
    low: value - half,
    high: value + half,
    system: system === undefined || system === '' ? null : system,
    code: code === undefined || code === '' ? null : code,
  };
}

function referenceTest(name: string, v: string, typeModifier: string | undefined): { targetType: string | null; targetId: string } {
  if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) return { targetType: typeModifier ?? null, targetId: v };
  const parsed = referenceOf({ reference: v });
  if (!parsed || (typeModifier && parsed.targetType !== typeModifier))
    return invalid(name, 'must be an id, Type/id or an absolute URL ending in Type/id');
  return parsed;
}

function parseSort(resourceType: string, raw: string): SortSpec[] {
  return raw.split(',').map((part) => {
    const descending = part.startsWith('-');
    const key = descending ? part.slice(1) : part;
    if (key === '_lastUpdated' || key === '_id') return { by: { key }, descending };
    const planned = indexedParameter(resourceType, key);
    if (planned?.type !== 'date' || PERSON_TYPES.has(resourceType)) {
      throw new WardError('WARD_UNKNOWN_PARAMETER', {
        details: [{ diagnostics: `_sort supports _lastUpdated, _id and date parameters; not ${safeName(key)}` }],
      });
    }
    return { by: { key: 'date', param: key }, descending };
  });
}

function nonNegative(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) return invalid(name, 'must be a non-negative integer');
  return n;
}

function unknown(resourceType: string, name: string): WardError {
  return new WardError('WARD_UNKNOWN_PARAMETER', {
    details: [{ diagnostics: `Search parameter is unknown or not supported on ${resourceType}: ${safeName(name)}` }],
  });
}

/**
 * `:contains` would need the database to see inside values. Every string parameter is blind (a
 * keyed hash of the whole value and of its first 8 characters), so there is nothing to look
 * inside; indexing every substring as a hash would let anyone with the database count and align
 * n-grams across records. Refused, and said so (ADR 0011).
 */
function containsRefused(name: string): WardError {
  return new WardError('WARD_UNKNOWN_PARAMETER', {
    details: [
      {
        diagnostics: `Parameter ${safeName(name)}: :contains is not supported, because string values are stored only as keyed hashes of the whole value and its prefixes; use starts-with (no modifier) or :exact`,
      },
    ],
  });
}

/** `:in`, `:not-in`, `:above` and `:below` on tokens need a terminology server, which Ward does not have. */
function needsTerminology(name: string): WardError {
  return new WardError('WARD_UNKNOWN_PARAMETER', {
    details: [
      {
        diagnostics: `Parameter ${safeName(name)}: value-set and subsumption modifiers need a terminology service, which is not available`,
      },
    ],
  });
}

function invalid(name: string, why: string): never {
  throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `Parameter ${safeName(name)} ${why}` }] });
}

/** A parameter name may be echoed only if it looks like one; anything else could be data. */
function safeName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(name) ? name : '(unprintable name)';
}
