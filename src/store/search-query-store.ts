import type { Prefix } from '../fhir/index.js';
import type { Queryable } from './database.js';
import { type BatchFactQuery, type FactRows, withFactRows } from './policy-fact-store.js';
import { type StoredVersion, toStoredVersion, VERSION_COLUMNS } from './resource-store.js';
import { shapeName } from './statement-names.js';

/** A range test on [low, high) columns, by FHIR prefix, against the value's range [low, high). */
export interface RangeTest {
  readonly op: Prefix;
  readonly low: number;
  readonly high: number;
}

/**
 * One search condition as the store evaluates it; identifying values arrive already as blind-index
 * hashes. Conditions are ANDed; the values inside one are ORed.
 */
export type SearchCondition =
  | {
      readonly kind: 'token';
      readonly param: string;
      readonly not: boolean;
      readonly typed: readonly { system: string | null | undefined; code: string | undefined }[];
      readonly hashes: readonly Buffer[];
    }
  | { readonly kind: 'blind'; readonly param: string; readonly hashes: readonly Buffer[]; readonly not?: boolean }
  | { readonly kind: 'date'; readonly param: string; readonly tests: readonly RangeTest[] }
  | { readonly kind: 'reference'; readonly param: string; readonly targets: readonly { targetType: string | null; targetId: string }[] }
  | {
      readonly kind: 'number';
      readonly param: string;
      readonly tests: readonly (RangeTest & { value: number; system: string | null; code: string | null })[];
    }
  | { readonly kind: 'uri'; readonly param: string; readonly match: 'exact' | 'above' | 'below'; readonly uris: readonly string[] }
  | { readonly kind: 'missing'; readonly param: string; readonly tables: readonly SearchTable[]; readonly missing: boolean }
  | { readonly kind: 'id'; readonly ids: readonly string[] }
  | { readonly kind: 'lastUpdated'; readonly tests: readonly RangeTest[] }
  | { readonly kind: 'compartment'; readonly patient: string }
  /** A chain's outer step: the reference points to one of `ids` of `type` (ids the vault found visible). */
  | { readonly kind: 'referenceIn'; readonly param: string; readonly targets: readonly { type: string; ids: readonly string[] }[] }
  /** `_has`'s outer step: one of `sourceIds` of `sourceType` references the resource through `param`. */
  | { readonly kind: 'referencedBy'; readonly sourceType: string; readonly param: string; readonly sourceIds: readonly string[] };

export type SearchTable = 'token' | 'date' | 'reference' | 'number' | 'uri' | 'blind';

export type SearchOrder = { readonly column: 'last_updated' | 'id' | { dateParam: string }; readonly descending: boolean };

/**
 * Current, non-deleted resources of a type matching every condition, in a stable order (the sort
 * keys, then id), `limit` rows from `offset`. Policy is not the store's: the vault filters.
 */
export async function searchResources(
  q: Queryable,
  resourceType: string,
  conditions: readonly SearchCondition[],
  order: readonly SearchOrder[],
  page: { limit: number; offset: number },
): Promise<StoredVersion[]> {
  const { sql, params } = searchSql(resourceType, conditions, order, page);
  // Every value is a parameter, so the text is the query's shape: prepared by it, a repeated search is not parsed again.
  const { rows } = await q.query(sql, params, shapeName('ward_search', sql));
  return rows.map(toStoredVersion);
}

/**
 * What searchResources finds, with the rows the policy facts of its patients are made of, in one
 * round trip (see withFactRows).
 */
export async function searchResourcesWithFacts(
  q: Queryable,
  resourceType: string,
  conditions: readonly SearchCondition[],
  order: readonly SearchOrder[],
  page: { limit: number; offset: number },
  facts: BatchFactQuery,
): Promise<{ rows: StoredVersion[]; facts: FactRows }> {
  const search = searchSql(resourceType, conditions, order, page);
  const { sql, read } = withFactRows(search.sql, search.bind, facts);
  const { rows } = await q.query(sql, search.params, shapeName('ward_search_facts', sql));
  return read(rows);
}

function searchSql(
  resourceType: string,
  conditions: readonly SearchCondition[],
  order: readonly SearchOrder[],
  page: { limit: number; offset: number },
): { sql: string; params: unknown[]; bind: Bind } {
  const params: unknown[] = [resourceType];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = ['r.resource_type = $1', 'NOT r.deleted', ...conditions.map((c) => conditionSql(c, p))];
  const orderBy = [...order.map((o) => orderSql(o, p)), 'r.id'].join(', ');
  const sql = `SELECT ${VERSION_COLUMNS} FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE ${where.join(' AND ')} ORDER BY ${orderBy} LIMIT ${p(page.limit)} OFFSET ${p(page.offset)}`;
  return { sql, params, bind: p };
}

/** `$1` is always the searched type, so subqueries that need it stay uncorrelated (planned once, as a semi-join). */
type Bind = (value: unknown) => string;

const exists = (table: SearchTable, param: string, p: Bind, test: string) =>
  `EXISTS (SELECT 1 FROM ward_search_${table} x WHERE x.resource_type = r.resource_type AND x.id = r.id AND x.param = ${p(param)} AND (${test}))`;

/** A blind-indexed value among the hashes (a GIN lookup on the resource's row for the parameter). */
const blindMatch = (param: string, hashes: readonly Buffer[], p: Bind) => exists('blind', param, p, `x.hashes && ${p(hashes)}::bytea[]`);

function conditionSql(c: SearchCondition, p: Bind): string {
  switch (c.kind) {
    case 'token': {
      const typed = c.typed.map((t) =>
        [
          t.system === undefined ? null : t.system === null ? 'x.system IS NULL' : `x.system = ${p(t.system)}`,
          t.code === undefined ? null : `x.code = ${p(t.code)}`,
        ]
          .filter(Boolean)
          .join(' AND '),
      );
      const any = [
        ...(typed.length ? [exists('token', c.param, p, typed.map((t) => `(${t})`).join(' OR '))] : []),
        ...(c.hashes.length ? [blindMatch(c.param, c.hashes, p)] : []),
      ];
      const match = any.length ? `(${any.join(' OR ')})` : 'false';
      return c.not ? `NOT ${match}` : match;
    }
    case 'blind': {
      const match = c.hashes.length ? blindMatch(c.param, c.hashes, p) : 'false';
      return c.not ? `NOT ${match}` : match;
    }
    case 'date':
      return exists('date', c.param, p, c.tests.map((t) => `(${rangeSql(t, 'x.low', 'x.high', p)})`).join(' OR ') || 'false');
    case 'lastUpdated':
      return `(${c.tests.map((t) => `(${rangeSql(t, lastUpdatedMs, `${lastUpdatedMs} + 1`, p)})`).join(' OR ') || 'false'})`;
    case 'reference':
      return exists(
        'reference',
        c.param,
        p,
        c.targets
          .map((t) => `(x.target_id = ${p(t.targetId)}${t.targetType ? ` AND x.target_type = ${p(t.targetType)}` : ''})`)
          .join(' OR ') || 'false',
      );
    case 'number':
      return exists(
        'number',
        c.param,
        p,
        c.tests
          .map((t) =>
            [numberSql(t, p), t.system ? `x.system = ${p(t.system)}` : null, t.code ? `x.code = ${p(t.code)}` : null]
              .filter(Boolean)
              .join(' AND '),
          )
          .map((s) => `(${s})`)
          .join(' OR ') || 'false',
      );
    case 'uri':
      if (c.match === 'below')
        return exists('uri', c.param, p, c.uris.map((u) => `starts_with(x.uri, ${p(u)}::text)`).join(' OR ') || 'false');
      // `above`: the stored uri is one of the value's parents, so the lookup stays an index equality.
      return exists('uri', c.param, p, `x.uri = ANY(${p(c.match === 'above' ? c.uris.flatMap(parentsOf) : c.uris)}::text[])`);
    case 'missing': {
      const present = c.tables.map((t) => exists(t, c.param, p, 'true')).join(' OR ');
      return c.missing ? `NOT (${present})` : `(${present})`;
    }
    case 'id':
      return `r.id = ANY(${p(c.ids)}::text[])`;
    case 'compartment':
      // Containment, not `= ANY`, so the GIN index on patients (migration 9) serves it.
      return `r.patients @> ARRAY[${p(c.patient)}::text]`;
    case 'referenceIn': {
      const any = c.targets
        .filter((t) => t.ids.length > 0)
        .map((t) => `(x.target_type = ${p(t.type)} AND x.target_id = ANY(${p(t.ids)}::text[]))`);
      return any.length
        ? `r.id IN (SELECT x.id FROM ward_search_reference x WHERE x.resource_type = $1 AND x.param = ${p(c.param)} AND (${any.join(' OR ')}))`
        : 'false';
    }
    case 'referencedBy':
      return c.sourceIds.length
        ? `r.id IN (SELECT x.target_id FROM ward_search_reference x WHERE x.resource_type = ${p(c.sourceType)} AND x.id = ANY(${p(c.sourceIds)}::text[]) AND x.param = ${p(c.param)} AND x.target_type = $1)`
        : 'false';
  }
}

/** A uri and each parent at a `/` boundary: `http://a/b/c` → itself, `http://a/b/`, `http://a/b`, `http://a/`, `http://a`. */
function parentsOf(uri: string): string[] {
  const out = [uri];
  const start = uri.indexOf('//') >= 0 ? uri.indexOf('//') + 2 : 0;
  for (let i = uri.length - 1; i > start; i--) {
    if (uri[i] === '/') out.push(uri.slice(0, i + 1), uri.slice(0, i));
  }
  return [...new Set(out)];
}

const lastUpdatedMs = `(extract(epoch FROM r.last_updated) * 1000)::bigint`;

/** R4 §3.1.1.4.2: the resource's range [lo, hi) against the parameter's range [low, high). */
function rangeSql(t: RangeTest, lo: string, hi: string, p: Bind): string {
  // Bound only where used: PostgreSQL refuses a parameter it cannot type.
  const low = () => `${p(Math.floor(t.low))}::bigint`;
  const high = () => `${p(Math.ceil(t.high))}::bigint`;
  switch (t.op) {
    case 'eq':
      return `${lo} >= ${low()} AND ${hi} <= ${high()}`;
    case 'ne':
      return `NOT (${lo} >= ${low()} AND ${hi} <= ${high()})`;
    case 'gt':
      return `${hi} > ${high()}`;
    case 'ge':
      return `${hi} > ${low()}`;
    case 'lt':
      return `${lo} < ${low()}`;
    case 'le':
      return `${lo} < ${high()}`;
    case 'sa':
      return `${lo} >= ${high()}`;
    case 'eb':
      return `${hi} <= ${low()}`;
    case 'ap':
      return `${lo} < ${high()} AND ${hi} > ${low()}`;
  }
}

function numberSql(t: RangeTest & { value: number }, p: Bind): string {
  const v = () => `${p(t.value)}::numeric`;
  switch (t.op) {
    case 'eq':
    case 'ap':
      return `x.value >= ${p(t.low)}::numeric AND x.value < ${p(t.high)}::numeric`;
    case 'ne':
      return `NOT (x.value >= ${p(t.low)}::numeric AND x.value < ${p(t.high)}::numeric)`;
    case 'gt':
    case 'sa':
      return `x.value > ${v()}`;
    case 'lt':
    case 'eb':
      return `x.value < ${v()}`;
    case 'ge':
      return `x.value >= ${v()}`;
    case 'le':
      return `x.value <= ${v()}`;
  }
}

function orderSql(o: SearchOrder, p: Bind): string {
  const dir = o.descending ? 'DESC' : 'ASC';
  if (o.column === 'last_updated') return `r.last_updated ${dir}`;
  if (o.column === 'id') return `r.id ${dir}`;
  // Ascending sorts by the earliest value, descending by the latest (R4 §3.1.1.5.7); no value sorts last.
  const agg = o.descending ? 'max(x.high)' : 'min(x.low)';
  return `(SELECT ${agg} FROM ward_search_date x WHERE x.resource_type = r.resource_type AND x.id = r.id AND x.param = ${p(o.column.dateParam)}) ${dir} NULLS LAST`;
}
