import { expressionTypes } from './expression-types.js';
import { type DateRange, MAX_MS, MIN_MS, parseFhirDate } from './search-dates.js';
import { normalizeString } from './search-normalize.js';
import {
  type CompiledExpression,
  compileExpression,
  expressionFor,
  type SearchParameterDefinition,
  searchParametersOf,
} from './search-parameters.js';
import { compileSimplePath } from './simple-path.js';

/** Resource types whose every date (birth, death) identifies a person and is kept only as a blind index. */
export const PERSON_TYPES: ReadonlySet<string> = new Set(['Patient', 'RelatedPerson', 'Person']);

/** Parameter types Ward extracts and searches; composite and special ones are not indexed yet. */
export const INDEXED_TYPES = new Set<SearchParameterDefinition['type']>([
  'token',
  'string',
  'date',
  'reference',
  'number',
  'quantity',
  'uri',
]);

/**
 * One search-index value of a resource. `identifying` values (strings, Identifier and ContactPoint
 * tokens, person dates) are stored only as blind indexes; the others as typed columns.
 */
export type IndexValue =
  | { readonly kind: 'token'; readonly param: string; readonly system: string | null; readonly code: string; readonly identifying: boolean }
  | { readonly kind: 'string'; readonly param: string; readonly raw: string; readonly normalized: string }
  | {
      readonly kind: 'date';
      readonly param: string;
      readonly range: DateRange | { low: number; high: number };
      readonly identifying: boolean;
    }
  | { readonly kind: 'reference'; readonly param: string; readonly targetType: string | null; readonly targetId: string }
  | {
      readonly kind: 'number';
      readonly param: string;
      readonly value: number;
      readonly system: string | null;
      readonly code: string | null;
    }
  | { readonly kind: 'uri'; readonly param: string; readonly uri: string };

/** Served from the resource table's own columns rather than an index. */
const SERVED_FROM_COLUMNS = new Set(['_id', '_lastUpdated']);

interface PlannedParameter {
  readonly code: string;
  readonly url: string;
  readonly type: SearchParameterDefinition['type'];
  /** The FHIRPath as evaluated (after the rewrites of indexPlan). */
  readonly expression: string;
  readonly evaluate: CompiledExpression;
  /**
   * Whether a query value of this parameter may identify a person, so that the audit entry must
   * not carry it: every parameter of a person's resource, and a token that can reach an Identifier
   * or ContactPoint (or whose FHIRPath does not tell its type). Decided from the element types,
   * as the index decides per value, so `Specimen?accession=` is treated like `identifier=`.
   */
  readonly identifying: boolean;
  /**
   * Where a token parameter's values can be stored, so a query looks only there: Identifier and
   * ContactPoint values only in the blind table (and are then compared only as hashes, never sent
   * to the database as text), other codes only in the typed one; `both` when the FHIRPath does
   * not tell. Undefined for other parameter types.
   */
  readonly tokenLookup?: TokenLookup;
}

export type TokenLookup = 'typed' | 'blind' | 'both';

const IDENTIFYING_TYPES = ['Identifier', 'ContactPoint'];

function tokenLookupOf(expression: string): TokenLookup {
  const types = expressionTypes(expression);
  if (types === undefined) return 'both';
  const blind = [...types].filter((t) => IDENTIFYING_TYPES.includes(t)).length;
  return blind === 0 ? 'typed' : blind === types.size ? 'blind' : 'both';
}

function identifyingParameter(resourceType: string, type: SearchParameterDefinition['type'], expression: string): boolean {
  if (PERSON_TYPES.has(resourceType) || type === 'string') return true;
  if (type !== 'token') return false;
  const types = expressionTypes(expression);
  return types === undefined || IDENTIFYING_TYPES.some((t) => types.has(t));
}

const plans = new Map<string, readonly PlannedParameter[]>();

/**
 * The parameters indexed for a type, with their FHIRPath compiled once per process. resolve() has
 * no resolver at write time, so `.where(resolve() is T)` becomes a check of the reference's type prefix.
 */
export function indexPlan(resourceType: string): readonly PlannedParameter[] {
  const cached = plans.get(resourceType);
  if (cached) return cached;
  const plan: PlannedParameter[] = [];
  for (const sp of searchParametersOf(resourceType)) {
    if (!INDEXED_TYPES.has(sp.type) || SERVED_FROM_COLUMNS.has(sp.code)) continue;
    const generic = sp.base.includes('Resource') || sp.base.includes('DomainResource');
    const expression = generic ? sp.expression?.replaceAll('Resource.', `${resourceType}.`) : expressionFor(sp, resourceType);
    if (!expression) continue;
    // `(X as T)` needs X to be a single item: on an Observation with two components it fails and
    // would leave the parameter unindexed, so it becomes `X.ofType(T)`, which filters a collection.
    // The same holds for `X.as(T)` and for `(X as T).rest`.
    const rewritten = expression
      .replace(/\.where\(resolve\(\) is (\w+)\)/g, ".where(reference.startsWith('$1/'))")
      .replace(/\.as\((\w+)\)/g, '.ofType($1)')
      .split(/\s\|\s/)
      .map((part) =>
        part
          .trim()
          .replace(/^\(?([A-Za-z][\w.]*) as (\w+)\)?$/, '$1.ofType($2)')
          .replace(/^\(([A-Za-z][\w.]*) as (\w+)\)((?:\.[a-z]\w*)+)$/, '$1.ofType($2)$3'),
      )
      .join(' | ');
    try {
      plan.push({
        code: sp.code,
        url: sp.url,
        type: sp.type,
        expression: rewritten,
        evaluate: compileSimplePath(rewritten) ?? compileExpression(rewritten),
        identifying: identifyingParameter(resourceType, sp.type, expression),
        ...(sp.type === 'token' ? { tokenLookup: tokenLookupOf(expression) } : {}),
      });
    } catch {
      // An expression the engine cannot compile leaves that one parameter unindexed (and unsearchable).
    }
  }
  plans.set(resourceType, plan);
  return plan;
}

/** Whether `param` is indexed for the type (and so searchable), with its type. */
export function indexedParameter(resourceType: string, param: string): PlannedParameter | undefined {
  return indexPlan(resourceType).find((p) => p.code === param);
}

/** Every index value of a resource, by evaluating each indexed parameter's FHIRPath on it. */
export function extractIndexValues(resource: { resourceType: string }): IndexValue[] {
  const out: IndexValue[] = [];
  const person = PERSON_TYPES.has(resource.resourceType);
  for (const p of indexPlan(resource.resourceType)) {
    let nodes: unknown[];
    try {
      nodes = p.evaluate(resource);
    } catch {
      continue;
    }
    for (const node of nodes) collect(out, p, node, person);
  }
  return dedupe(out);
}

/** The index values one FHIRPath result node gives for a parameter (a composite's component is matched on these). */
export function indexValuesOfNode(p: Pick<PlannedParameter, 'code' | 'type'>, node: unknown, person: boolean): IndexValue[] {
  const out: IndexValue[] = [];
  collect(out, p, node, person);
  return out;
}

function collect(out: IndexValue[], p: Pick<PlannedParameter, 'code' | 'type'>, node: unknown, person: boolean): void {
  const param = p.code;
  switch (p.type) {
    case 'token':
      for (const t of tokensOf(node)) out.push({ kind: 'token', param, ...t });
      // `:text` searches the display text as a string, so it is indexed (blind, like every string) under `param:text`.
      for (const raw of textsOf(node)) {
        const normalized = normalizeString(raw);
        if (normalized) out.push({ kind: 'string', param: `${param}:text`, raw: raw.trim(), normalized });
      }
      for (const t of ofTypeTokensOf(node)) out.push({ kind: 'token', param: `${param}:of-type`, ...t, identifying: true });
      return;
    case 'string':
      for (const raw of stringsOf(node)) {
        const normalized = normalizeString(raw);
        if (normalized) out.push({ kind: 'string', param, raw: raw.trim(), normalized });
      }
      return;
    case 'date': {
      const range = dateRangeOf(node);
      if (range) out.push({ kind: 'date', param, range, identifying: person });
      return;
    }
    case 'reference': {
      const target = referenceOf(node);
      if (target) out.push({ kind: 'reference', param, ...target });
      else if (typeof node === 'string') out.push({ kind: 'uri', param, uri: node });
      // `:identifier` matches Reference.identifier, an Identifier: blind, under `param:identifier`.
      const identifier = (node as { identifier?: unknown } | null)?.identifier;
      for (const t of tokensOf(identifier)) if (t.identifying) out.push({ kind: 'token', param: `${param}:identifier`, ...t });
      return;
    }
    case 'number':
      if (typeof node === 'number') out.push({ kind: 'number', param, value: node, system: null, code: null });
      return;
    case 'quantity': {
      const q = node as { value?: unknown; system?: unknown; code?: unknown; unit?: unknown } | null;
      if (q && typeof q.value === 'number') {
        const code = typeof q.code === 'string' ? q.code : typeof q.unit === 'string' ? q.unit : null;
        out.push({ kind: 'number', param, value: q.value, system: typeof q.system === 'string' ? q.system : null, code });
      }
      return;
    }
    case 'uri':
      if (typeof node === 'string') out.push({ kind: 'uri', param, uri: node });
      return;
  }
}

type Token = { system: string | null; code: string; identifying: boolean };

/** Codes of a code, Coding, CodeableConcept, Identifier, ContactPoint or boolean; Identifier and ContactPoint values identify. */
function tokensOf(node: unknown): Token[] {
  if (typeof node === 'string') return [{ system: null, code: node, identifying: false }];
  if (typeof node === 'boolean') return [{ system: null, code: String(node), identifying: false }];
  if (!node || typeof node !== 'object') return [];
  const o = node as { coding?: unknown; system?: unknown; code?: unknown; value?: unknown };
  const system = typeof o.system === 'string' ? o.system : null;
  if (Array.isArray(o.coding)) return o.coding.flatMap(tokensOf);
  if (typeof o.code === 'string') return [{ system, code: o.code, identifying: false }];
  if (typeof o.value === 'string') return [{ system, code: o.value, identifying: true }];
  return [];
}

/** The text `:text` searches (R4 §3.1.1.5.4): CodeableConcept.text and Coding.display; an Identifier's type text. */
function textsOf(node: unknown): string[] {
  if (!node || typeof node !== 'object') return [];
  const o = node as { text?: unknown; display?: unknown; coding?: unknown; type?: unknown; value?: unknown };
  const own = [o.text, o.display].filter((t): t is string => typeof t === 'string');
  const codings = Array.isArray(o.coding) ? o.coding.flatMap(textsOf) : [];
  const identifierType = typeof o.value === 'string' && o.type ? textsOf(o.type) : [];
  return [...own, ...codings, ...identifierType];
}

/** `:of-type` tokens of an Identifier: its type's system as the system, `typeCode|value` as the code. */
function ofTypeTokensOf(node: unknown): { system: string | null; code: string }[] {
  const o = node as { type?: { coding?: unknown }; value?: unknown } | null;
  if (!o || typeof o.value !== 'string' || !Array.isArray(o.type?.coding)) return [];
  return (o.type.coding as { system?: unknown; code?: unknown }[]).flatMap((c) =>
    typeof c.code === 'string' ? [{ system: typeof c.system === 'string' ? c.system : null, code: `${c.code}|${o.value}` }] : [],
  );
}

const STRUCTURAL_KEYS = new Set(['use', 'type', 'period', 'extension', 'id', 'system', 'rank']);

/** The string leaves of a string, HumanName or Address (each part searchable on its own, R4 §3.1.1.5.6). */
function stringsOf(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(stringsOf);
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (STRUCTURAL_KEYS.has(k) ? [] : stringsOf(v)));
}

function dateRangeOf(node: unknown): DateRange | { low: number; high: number } | undefined {
  if (typeof node === 'string') return parseFhirDate(node);
  if (!node || typeof node !== 'object') return undefined;
  const period = node as { start?: unknown; end?: unknown };
  if (typeof period.start !== 'string' && typeof period.end !== 'string') return undefined;
  const low = typeof period.start === 'string' ? parseFhirDate(period.start)?.low : MIN_MS;
  const high = typeof period.end === 'string' ? parseFhirDate(period.end)?.high : MAX_MS;
  return low !== undefined && high !== undefined ? { low, high } : undefined;
}

const REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** The type and id a Reference names (relative or absolute); contained (`#x`) and logical references have none. */
export function referenceOf(node: unknown): { targetType: string | null; targetId: string } | undefined {
  const reference = (node as { reference?: unknown } | null)?.reference;
  if (typeof reference !== 'string') return undefined;
  const m = REFERENCE.exec(reference);
  return m ? { targetType: m[1] as string, targetId: m[2] as string } : undefined;
}

function dedupe(values: IndexValue[]): IndexValue[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = valueKey(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Equal for equal values (every field, null apart from any string); built by hand, as JSON.stringify was a tenth of extraction. */
function valueKey(v: IndexValue): string {
  const f = (x: string | number | boolean | null | undefined) => (x === null ? '\u0000n' : x === undefined ? '\u0000u' : String(x));
  switch (v.kind) {
    case 'token':
      return `t\u001f${v.param}\u001f${f(v.system)}\u001f${v.code}\u001f${v.identifying}`;
    case 'string':
      return `s\u001f${v.param}\u001f${v.raw}\u001f${v.normalized}`;
    case 'date': {
      const r = v.range as Partial<DateRange>;
      return `d\u001f${v.param}\u001f${v.identifying}\u001f${r.low}\u001f${r.high}\u001f${f(r.precision)}\u001f${f(r.year)}\u001f${f(r.month)}\u001f${f(r.day)}`;
    }
    case 'reference':
      return `r\u001f${v.param}\u001f${f(v.targetType)}\u001f${v.targetId}`;
    case 'number':
      return `n\u001f${v.param}\u001f${v.value}\u001f${f(v.system)}\u001f${f(v.code)}`;
    case 'uri':
      return `u\u001f${v.param}\u001f${v.uri}`;
  }
}
