import { type BlindIndexer, dateBlockHashes, datePrecisionHash, stringExactHash, stringPrefixHash, tokenHash } from '../crypto/index.js';
import {
  type Criterion,
  compositeMatches,
  type DateTest,
  extractIndexValues,
  type FhirResource,
  MAX_MS,
  MAX_PREFIX,
  MIN_MS,
  normalizeString,
  type SortSpec,
} from '../fhir/index.js';
import type { SearchCondition, SearchOrder, SearchTable } from '../store/index.js';

/**
 * The ids of the resources of a type matching criteria that the principal may see: how a chain's
 * or `_has`'s inner search is answered, so that it never reveals what the caller cannot see.
 */
export type VisibleIds = (resourceType: string, criteria: readonly Criterion[]) => Promise<string[]>;

/**
 * Turns parsed criteria into store conditions, hashing identifying values with the blind-index
 * key so that they reach the database only as hashes, like the values they are compared with.
 * Chained and `_has` criteria are answered first by `inner` (itself through these conditions, so
 * their identifying values are hashed the same way) and become lists of visible ids.
 */
export async function conditionsOf(
  indexer: BlindIndexer,
  resourceType: string,
  criteria: readonly Criterion[],
  now: Date,
  inner: VisibleIds,
): Promise<SearchCondition[]> {
  const out: SearchCondition[] = [];
  for (const c of criteria) {
    if (c.kind === 'chain') {
      const targets: { type: string; ids: string[] }[] = [];
      for (const t of c.targets) targets.push({ type: t.type, ids: await inner(t.type, [t.criterion]) });
      out.push({ kind: 'referenceIn', param: c.param, targets });
    } else if (c.kind === 'composite') {
      // The store narrows by each component alone; the vault confirms the pairing (compositeChecks).
      out.push(...(await conditionsOf(indexer, resourceType, c.prefilter, now, inner)));
    } else if (c.kind === 'has') {
      out.push({ kind: 'referencedBy', sourceType: c.sourceType, param: c.param, sourceIds: await inner(c.sourceType, [c.criterion]) });
    } else out.push(conditionOf(indexer, resourceType, c, now));
  }
  return out;
}

function conditionOf(
  indexer: BlindIndexer,
  resourceType: string,
  c: Exclude<Criterion, { kind: 'chain' | 'has' | 'composite' }>,
  now: Date,
): SearchCondition {
  switch (c.kind) {
    case 'token':
      return {
        kind: 'token',
        param: c.param,
        not: c.not,
        // An identifying value is never sent as text: only its hash, where the writer put it.
        typed: c.lookup === 'blind' ? [] : c.values,
        hashes: c.lookup === 'typed' ? [] : c.values.map((t) => tokenHash(indexer, resourceType, c.param, t.system, t.code)),
      };
    case 'string':
      return {
        kind: 'blind',
        param: c.param,
        hashes: c.values.map((v) =>
          c.exact ? stringExactHash(indexer, resourceType, c.param, v) : stringPrefixHash(indexer, resourceType, c.param, v),
        ),
      };
    case 'date':
      if (!c.blind) return { kind: 'date', param: c.param, tests: c.values.map(rangeTest) };
      return blindDate(indexer, resourceType, c.param, c.values, now);
    case 'reference':
      return { kind: 'reference', param: c.param, targets: c.values };
    case 'number':
      return { kind: 'number', param: c.param, tests: c.values };
    case 'uri':
      return { kind: 'uri', param: c.param, match: c.match, uris: c.values };
    case 'missing':
      return { kind: 'missing', param: c.param, tables: TABLES_OF[c.paramType] ?? [], missing: c.missing };
    case 'id':
      return { kind: 'id', ids: c.values };
    case 'lastUpdated':
      return { kind: 'lastUpdated', tests: c.values.map(rangeTest) };
  }
}

const TABLES_OF: Record<string, SearchTable[]> = {
  token: ['token', 'blind'],
  string: ['blind'],
  date: ['date', 'blind'],
  reference: ['reference', 'uri'],
  number: ['number'],
  quantity: ['number'],
  uri: ['uri'],
};

function rangeTest(t: DateTest) {
  return { op: t.op, low: t.range.low, high: t.range.high };
}

/**
 * A person's date (birth, death) is stored as year, month and day hashes only. Equality looks up
 * the hash at the query's precision; `ne` is its negation; a range is enumerated as the whole
 * years, months and days it covers (so a stored value of coarser precision matches only when its
 * whole year or month lies in the range).
 */
function blindDate(indexer: BlindIndexer, resourceType: string, param: string, values: readonly DateTest[], now: Date): SearchCondition {
  const ne = values.filter((v) => v.op === 'ne');
  if (ne.length > 0 && ne.length === values.length) {
    return { kind: 'blind', param, not: true, hashes: ne.map((v) => datePrecisionHash(indexer, resourceType, param, v.range)) };
  }
  const hashes = values.flatMap((v) => {
    const { low, high } = v.range;
    switch (v.op) {
      case 'eq':
        return [datePrecisionHash(indexer, resourceType, param, v.range)];
      case 'gt':
      case 'sa':
        return dateBlockHashes(indexer, resourceType, param, high, MAX_MS, now);
      case 'ge':
        return dateBlockHashes(indexer, resourceType, param, low, MAX_MS, now);
      case 'lt':
      case 'eb':
        return dateBlockHashes(indexer, resourceType, param, MIN_MS, low, now);
      case 'le':
        return dateBlockHashes(indexer, resourceType, param, MIN_MS, high, now);
      case 'ap':
        return dateBlockHashes(indexer, resourceType, param, low, high, now);
      default:
        return [];
    }
  });
  return { kind: 'blind', param, hashes };
}

export function orderOf(sort: readonly SortSpec[]): SearchOrder[] {
  return sort.map((s) => ({
    column: s.by.key === 'date' ? { dateParam: s.by.param } : s.by.key === '_lastUpdated' ? 'last_updated' : 'id',
    descending: s.descending,
  }));
}

/**
 * What the indexes cannot decide alone, checked on the opened resource, or undefined when nothing
 * is: string queries longer than the indexed prefix (looked up by their first MAX_PREFIX
 * characters, so the resource must really start with the whole query), and composites (narrowed
 * by each component on its own, so the pairing within one element is confirmed here).
 */
export function confirmationOf(criteria: readonly Criterion[]): ((resource: FhirResource) => boolean) | undefined {
  const strings = criteria.flatMap((c) =>
    c.kind === 'string' && !c.exact && c.values.some((v) => [...normalizeString(v)].length > MAX_PREFIX)
      ? [{ param: c.param, values: c.values.map(normalizeString) }]
      : [],
  );
  const composites = criteria.flatMap((c) => (c.kind === 'composite' ? [c] : []));
  if (strings.length === 0 && composites.length === 0) return undefined;
  return (resource) => {
    const values = strings.length ? extractIndexValues(resource).flatMap((v) => (v.kind === 'string' ? [v] : [])) : [];
    return (
      strings.every((c) => values.some((s) => s.param === c.param && c.values.some((q) => s.normalized.startsWith(q)))) &&
      composites.every((c) => compositeMatches(resource, c))
    );
  };
}
