import { compositePlan } from './search-composite.js';
import { type IndexValue, indexValuesOfNode } from './search-extraction.js';
import { normalizeString } from './search-normalize.js';
import type { Criterion, Prefix } from './search-request.js';

/**
 * Whether a composite criterion holds on a resource: for some value (OR), some one element (the
 * Observation, or one of its components) has, for every component, a value matching that part
 * (R4 §3.1.1.5.9). The store has already narrowed by each component on its own; this pairs them.
 */
export function compositeMatches(resource: { resourceType: string }, c: Extract<Criterion, { kind: 'composite' }>): boolean {
  const plan = compositePlan(resource.resourceType, c.param);
  if (!plan) return false;
  return plan.parts.some((part) =>
    part.elements(resource).some((element) =>
      c.values.some((parts) =>
        part.components.every((component, i) => {
          const criterion = parts[i] as Criterion;
          const values = component.evaluate(element as object).flatMap((node) => indexValuesOfNode(component, node, plan.person));
          return values.some((v) => valueMatches(v, criterion));
        }),
      ),
    ),
  );
}

/** One index value against one simple criterion, with the store's semantics (search-query-store.ts). */
function valueMatches(v: IndexValue, c: Criterion): boolean {
  switch (c.kind) {
    case 'token':
      return (
        v.kind === 'token' &&
        c.values.some((t) => (t.system === undefined || t.system === v.system) && (t.code === undefined || t.code === v.code)) !== c.not
      );
    case 'number':
      return (
        v.kind === 'number' &&
        c.values.some((t) => numberHolds(t.op, v.value, t) && (!t.system || t.system === v.system) && (!t.code || t.code === v.code))
      );
    case 'date':
      return v.kind === 'date' && c.values.some((t) => rangeHolds(t.op, v.range, t.range));
    case 'string':
      return v.kind === 'string' && c.values.some((q) => (c.exact ? v.raw === q.trim() : v.normalized.startsWith(normalizeString(q))));
    case 'reference':
      return v.kind === 'reference' && c.values.some((t) => t.targetId === v.targetId && (!t.targetType || t.targetType === v.targetType));
    case 'uri':
      return v.kind === 'uri' && c.values.includes(v.uri);
    default:
      return false;
  }
}

function numberHolds(op: Prefix, value: number, t: { value: number; low: number; high: number }): boolean {
  switch (op) {
    case 'eq':
    case 'ap':
      return value >= t.low && value < t.high;
    case 'ne':
      return !(value >= t.low && value < t.high);
    case 'gt':
    case 'sa':
      return value > t.value;
    case 'lt':
    case 'eb':
      return value < t.value;
    case 'ge':
      return value >= t.value;
    case 'le':
      return value <= t.value;
  }
}

/** R4 §3.1.1.4.2: the value's range [lo, hi) against the parameter's range [low, high). */
function rangeHolds(op: Prefix, r: { low: number; high: number }, t: { low: number; high: number }): boolean {
  switch (op) {
    case 'eq':
      return r.low >= t.low && r.high <= t.high;
    case 'ne':
      return !(r.low >= t.low && r.high <= t.high);
    case 'gt':
      return r.high > t.high;
    case 'ge':
      return r.high > t.low;
    case 'lt':
      return r.low < t.low;
    case 'le':
      return r.low < t.high;
    case 'sa':
      return r.low >= t.high;
    case 'eb':
      return r.high <= t.low;
    case 'ap':
      return r.low < t.high && r.high > t.low;
  }
}
