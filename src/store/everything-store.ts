import type { Queryable } from './database.js';
import { type StoredVersion, toStoredVersion, VERSION_COLUMNS } from './resource-store.js';

/** What `$everything` narrows to; every filter applies to every resource returned. */
export interface EverythingFilter {
  readonly types?: readonly string[];
  readonly since?: Date;
  /**
   * Care dates overlapping [low, high): for each type with a care-date parameter (`params`, type →
   * parameter), a resource with a value of it outside the range is left out; one without any value,
   * and every resource of a type without a care date, stays (nothing places it outside the range).
   */
  readonly care?: { readonly low: number; readonly high: number; readonly params: ReadonlyMap<string, string> };
}

/** A position in (type, id) order: rows strictly after it. */
export interface EverythingKey {
  readonly type: string;
  readonly id: string;
}

type Bind = (value: unknown) => string;

/**
 * The patient's compartment (every current resource whose patients include `patient`, found by the
 * GIN index of migration 9), except the Patient itself, after `after` in (type, id) order.
 * Policy is not the store's: the vault decides on each row.
 */
export function compartmentRows(
  q: Queryable,
  patient: string,
  filter: EverythingFilter,
  after: EverythingKey | undefined,
  limit: number,
): Promise<StoredVersion[]> {
  return pageOfRows(q, patient, ['r.patients @> ARRAY[$1::text]', "NOT (r.resource_type = 'Patient' AND r.id = $1)"], filter, after, limit);
}

/**
 * Resources in no patient's compartment (Practitioner, Organization, Location, Medication…) that a
 * current resource of the patient's compartment (the Patient included) references through a
 * reference search parameter, after `after` in (type, id) order. Whether a referrer is one the
 * caller may see is the vault's question (compartmentReferrers).
 */
export function supportingRows(
  q: Queryable,
  patient: string,
  filter: EverythingFilter,
  after: EverythingKey | undefined,
  limit: number,
): Promise<StoredVersion[]> {
  const referenced = `(r.resource_type, r.id) IN (SELECT x.target_type, x.target_id FROM ward_search_reference x
        JOIN ward_resource c ON c.resource_type = x.resource_type AND c.id = x.id
       WHERE c.patients @> ARRAY[$1::text] AND NOT c.deleted AND x.target_type IS NOT NULL)`;
  return pageOfRows(q, patient, ["r.patients = '{}'::text[]", referenced], filter, after, limit);
}

/** One page of current, undeleted rows meeting `conditions` (`$1` is the patient) and the filter, in (type, id) order after `after`. */
async function pageOfRows(
  q: Queryable,
  patient: string,
  conditions: readonly string[],
  filter: EverythingFilter,
  after: EverythingKey | undefined,
  limit: number,
): Promise<StoredVersion[]> {
  const params: unknown[] = [patient];
  const p: Bind = (v) => `$${params.push(v)}`;
  const where = [
    'NOT r.deleted',
    ...conditions,
    ...filterSql(filter, p),
    ...(after ? [`(r.resource_type, r.id) > (${p(after.type)}::text, ${p(after.id)}::text)`] : []),
  ];
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE ${where.join(' AND ')} ORDER BY r.resource_type, r.id LIMIT ${p(limit)}`,
    params,
  );
  return rows.map(toStoredVersion);
}

/**
 * The current resources of the patient's compartment (the Patient included) that reference one of
 * `targetIds` of `targetType`, each with the target it references, a page at a time.
 */
export async function compartmentReferrers(
  q: Queryable,
  patient: string,
  targetType: string,
  targetIds: readonly string[],
  page: { limit: number; offset: number },
): Promise<{ row: StoredVersion; targetId: string }[]> {
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS}, s.target_id AS referenced
       FROM (SELECT DISTINCT x.resource_type, x.id, x.target_id FROM ward_search_reference x
              WHERE x.target_type = $2 AND x.target_id = ANY($3::text[])) s
       JOIN ward_resource r ON r.resource_type = s.resource_type AND r.id = s.id
       JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE r.patients @> ARRAY[$1::text] AND NOT r.deleted
      ORDER BY s.target_id, r.resource_type, r.id LIMIT $4 OFFSET $5`,
    [patient, targetType, targetIds, page.limit, page.offset],
  );
  return rows.map((row) => ({ row: toStoredVersion(row), targetId: row.referenced as string }));
}

function filterSql(filter: EverythingFilter, p: Bind): string[] {
  const out: string[] = [];
  if (filter.types) out.push(`r.resource_type = ANY(${p(filter.types)}::text[])`);
  if (filter.since) out.push(`r.last_updated >= ${p(filter.since)}::timestamptz`);
  if (filter.care) {
    // The (type, parameter) pairs of care dates, as a relation the date rows join.
    const care = `unnest(${p([...filter.care.params.keys()])}::text[], ${p([...filter.care.params.values()])}::text[]) AS cd(type, param)`;
    const dates = `SELECT 1 FROM ward_search_date x JOIN ${care} ON cd.type = x.resource_type AND cd.param = x.param
                    WHERE x.resource_type = r.resource_type AND x.id = r.id`;
    out.push(
      `(NOT EXISTS (${dates}) OR EXISTS (${dates} AND x.low < ${p(Math.ceil(filter.care.high))}::bigint AND x.high > ${p(Math.floor(filter.care.low))}::bigint))`,
    );
  }
  return out;
}
