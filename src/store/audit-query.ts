import { asDate, asNumber, type Queryable } from './database.js';

/**
 * The auditor's queries over `ward_audit_entry` (read-only; the log is append-only). Filters and
 * sort keys map to fixed SQL fragments; every value is a bind parameter. A search or history
 * entry's extra patients and returned resources are copied into the `patients` and `returned`
 * columns (indexed by migration 0003), so a per-patient or per-resource query does not scan the log.
 */
const PATIENTS = 'patients';
const RETURNED = 'returned';

export type AuditSortKey = 'date' | 'agent' | 'patient' | 'action' | 'outcome';

export interface AuditSort {
  readonly key: AuditSortKey;
  readonly descending: boolean;
}

/** Byte order ("C" collation), so both engines sort text the same way whatever the database locale. */
const SORT_COLUMN: Readonly<Record<AuditSortKey, string>> = {
  date: 'recorded_at',
  agent: 'principal_id COLLATE "C"',
  patient: 'patient_id COLLATE "C"',
  action: 'action COLLATE "C"',
  outcome: 'outcome COLLATE "C"',
};

/** Each inner list is an OR-group; groups are ANDed, as FHIR search combines repeated parameters. */
export interface AuditFilter {
  readonly patients?: readonly (readonly string[])[];
  readonly principals?: readonly (readonly string[])[];
  readonly actions?: readonly (readonly string[])[];
  /** Outcome labels: success, failure, error. */
  readonly outcomes?: readonly (readonly string[])[];
  readonly entities?: readonly (readonly { readonly type: string; readonly id: string }[])[];
  /** Inclusive. */
  readonly from?: Date;
  /** Exclusive. */
  readonly before?: Date;
  /** Only entries up to this sequence number: a snapshot that later appends cannot shift. */
  readonly atMostSeq?: number;
}

export interface AuditEntryRow {
  readonly seq: number;
  readonly recordedAt: Date;
  readonly entry: string;
}

class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

function whereOf(filter: AuditFilter, params: Params): string[] {
  const clauses: string[] = [];
  for (const group of filter.patients ?? []) {
    const list = params.add(group);
    clauses.push(`(patient_id = ANY(${list}::text[]) OR ${PATIENTS} && ${list}::text[])`);
  }
  for (const group of filter.principals ?? []) clauses.push(`principal_id = ANY(${params.add(group)}::text[])`);
  for (const group of filter.actions ?? []) clauses.push(`action = ANY(${params.add(group)}::text[])`);
  for (const group of filter.outcomes ?? []) clauses.push(`outcome = ANY(${params.add(group)}::text[])`);
  for (const group of filter.entities ?? []) {
    const exact = group.map((e) => `(resource_type = ${params.add(e.type)} AND resource_id = ${params.add(e.id)})`);
    const references = params.add(group.map((e) => `${e.type}/${e.id}`));
    clauses.push(`(${[...exact, `${RETURNED} && ${references}::text[]`].join(' OR ')})`);
  }
  if (filter.from) clauses.push(`recorded_at >= ${params.add(filter.from.toISOString())}::timestamptz`);
  if (filter.before) clauses.push(`recorded_at < ${params.add(filter.before.toISOString())}::timestamptz`);
  if (filter.atMostSeq !== undefined) clauses.push(`seq <= ${params.add(filter.atMostSeq)}`);
  return clauses;
}

function rowOf(r: Record<string, unknown>): AuditEntryRow {
  return { seq: asNumber(r.seq), recordedAt: asDate(r.recorded_at), entry: r.entry as string };
}

/** One page of entries matching the filter, in the given order (ties broken by sequence number). */
export async function searchAuditEntries(
  q: Queryable,
  filter: AuditFilter,
  sort: readonly AuditSort[],
  page: { readonly limit: number; readonly offset: number },
): Promise<AuditEntryRow[]> {
  const params = new Params();
  const where = whereOf(filter, params);
  const last = sort[sort.length - 1];
  const order = [...sort.map((s) => `${SORT_COLUMN[s.key]} ${s.descending ? 'DESC' : 'ASC'}`), `seq ${last?.descending ? 'DESC' : 'ASC'}`];
  const { rows } = await q.query(
    `SELECT seq, recorded_at, entry FROM ward_audit_entry
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${order.join(', ')}
      LIMIT ${params.add(page.limit)} OFFSET ${params.add(page.offset)}`,
    params.values,
  );
  return rows.map(rowOf);
}

export async function readAuditEntry(q: Queryable, seq: number): Promise<AuditEntryRow | undefined> {
  const { rows } = await q.query('SELECT seq, recorded_at, entry FROM ward_audit_entry WHERE seq = $1', [seq]);
  return rows[0] ? rowOf(rows[0]) : undefined;
}

/** The highest sequence number in the log (0 when empty). */
export async function lastAuditSeq(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ last: unknown }>('SELECT coalesce(max(seq), 0) AS last FROM ward_audit_entry');
  return asNumber(rows[0]?.last ?? 0);
}

/** Every matching entry in time order, read page by page (keyset on time and sequence number). */
export async function* scanAuditEntries(q: Queryable, filter: AuditFilter, pageSize = 1000): AsyncGenerator<AuditEntryRow> {
  let after: AuditEntryRow | undefined;
  for (;;) {
    const params = new Params();
    const where = whereOf(filter, params);
    if (after) where.push(`(recorded_at, seq) > (${params.add(after.recordedAt.toISOString())}::timestamptz, ${params.add(after.seq)})`);
    const { rows } = await q.query(
      `SELECT seq, recorded_at, entry FROM ward_audit_entry
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY recorded_at, seq LIMIT ${params.add(pageSize)}`,
      params.values,
    );
    for (const row of rows) yield rowOf(row);
    if (rows.length < pageSize) return;
    after = rowOf(rows[rows.length - 1] as Record<string, unknown>);
  }
}

/**
 * The candidate disclosures of one patient's PHI: successful entries of the given actions that
 * concern the patient, recorded from `from` on, whose purpose of use is not one of `excluded`.
 * Recorded disclosures (action `disclose`) may be entered after `before`; their own date decides.
 */
export async function* disclosureCandidates(
  q: Queryable,
  query: {
    readonly patientId: string;
    readonly actions: readonly string[];
    readonly excludedPurposes: readonly string[];
    readonly from: Date;
    readonly before: Date;
    readonly atMostSeq: number;
  },
  pageSize = 1000,
): AsyncGenerator<AuditEntryRow> {
  let afterSeq = 0;
  for (;;) {
    const { rows } = await q.query(
      `SELECT seq, recorded_at, entry FROM ward_audit_entry
        WHERE (patient_id = $1 OR ${PATIENTS} && ARRAY[$1]::text[])
          AND outcome = 'success' AND action = ANY($2::text[])
          AND recorded_at >= $3::timestamptz AND (action = 'disclose' OR recorded_at < $4::timestamptz)
          AND NOT ((entry::jsonb ->> 'purposeOfUse') = ANY($5::text[]))
          AND seq > $6 AND seq <= $7
        ORDER BY seq LIMIT $8`,
      [
        query.patientId,
        query.actions,
        query.from.toISOString(),
        query.before.toISOString(),
        query.excludedPurposes,
        afterSeq,
        query.atMostSeq,
        pageSize,
      ],
    );
    for (const row of rows) yield rowOf(row);
    if (rows.length < pageSize) return;
    afterSeq = asNumber((rows[rows.length - 1] as Record<string, unknown>).seq);
  }
}

export interface AccessWindow {
  readonly principalId: string;
  readonly from: Date;
  readonly before: Date;
  readonly atMostSeq: number;
}

const ACCESS_WHERE = `principal_id = $1 AND recorded_at >= $2::timestamptz AND recorded_at < $3::timestamptz AND seq <= $4`;
const accessParams = (w: AccessWindow) => [w.principalId, w.from.toISOString(), w.before.toISOString(), w.atMostSeq];

/** Entries of one principal in a window, counted by action and outcome. */
export async function accessCounts(q: Queryable, w: AccessWindow): Promise<{ action: string; outcome: string; count: number }[]> {
  const { rows } = await q.query(
    `SELECT action, outcome, count(*) AS n FROM ward_audit_entry WHERE ${ACCESS_WHERE}
      GROUP BY action, outcome ORDER BY action COLLATE "C", outcome COLLATE "C"`,
    accessParams(w),
  );
  return rows.map((r) => ({ action: r.action as string, outcome: r.outcome as string, count: asNumber(r.n) }));
}

/** The distinct patients whose data one principal's successful entries touched (at most `limit`, in id order). */
export async function accessedPatients(q: Queryable, w: AccessWindow, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ p: string }>(
    `SELECT p FROM ward_audit_entry,
            LATERAL unnest(array_append(coalesce(${PATIENTS}, '{}'::text[]), patient_id)) AS t(p)
      WHERE ${ACCESS_WHERE} AND outcome = 'success' AND p IS NOT NULL
      GROUP BY p ORDER BY p COLLATE "C" LIMIT $5`,
    [...accessParams(w), limit],
  );
  return rows.map((r) => r.p);
}

/**
 * The distinct resources (`Type/id`) one principal's successful entries touched, including every
 * resource a search or history page returned (at most `limit`, in order). Ids recorded only as
 * keyed hashes (never confirmed by a stored row) are left out.
 */
export async function accessedResources(q: Queryable, w: AccessWindow, limit: number): Promise<string[]> {
  const { rows } = await q.query<{ r: string }>(
    `SELECT r FROM (
        SELECT resource_type || '/' || resource_id AS r FROM ward_audit_entry
         WHERE ${ACCESS_WHERE} AND outcome = 'success' AND resource_type IS NOT NULL
           AND resource_id IS NOT NULL AND resource_id NOT LIKE 'hmac:%'
        UNION
        SELECT regexp_replace(t.ref, '/_history/.*$', '') FROM ward_audit_entry,
               LATERAL unnest(coalesce(${RETURNED}, '{}'::text[])) AS t(ref)
         WHERE ${ACCESS_WHERE} AND outcome = 'success'
      ) x ORDER BY r COLLATE "C" LIMIT $5`,
    [...accessParams(w), limit],
  );
  return rows.map((r) => r.r);
}

export interface FailureGroup {
  readonly principalId: string;
  readonly status: number;
  readonly code: string | null;
  readonly count: number;
  readonly first: Date;
  readonly last: Date;
  readonly addresses: readonly string[];
}

/** Refused or invalid requests (outcome `failure`) in a window, grouped by principal, status and code. */
export async function failureGroups(
  q: Queryable,
  w: { readonly from: Date; readonly before: Date; readonly atMostSeq: number },
): Promise<FailureGroup[]> {
  const { rows } = await q.query(
    `SELECT principal_id, status, code, count(*) AS n, min(recorded_at) AS first, max(recorded_at) AS last,
            array_agg(DISTINCT address) FILTER (WHERE address IS NOT NULL) AS addresses
       FROM (SELECT principal_id, recorded_at, (entry::jsonb -> 'outcome' ->> 'status')::int AS status,
                    entry::jsonb -> 'outcome' ->> 'code' AS code, entry::jsonb -> 'where' ->> 'address' AS address
               FROM ward_audit_entry
              WHERE outcome = 'failure' AND recorded_at >= $1::timestamptz AND recorded_at < $2::timestamptz AND seq <= $3) f
      GROUP BY principal_id, status, code
      ORDER BY principal_id COLLATE "C", status, code COLLATE "C"`,
    [w.from.toISOString(), w.before.toISOString(), w.atMostSeq],
  );
  return rows.map((r) => ({
    principalId: r.principal_id as string,
    status: asNumber(r.status),
    code: (r.code as string | null) ?? null,
    count: asNumber(r.n),
    first: asDate(r.first),
    last: asDate(r.last),
    addresses: ((r.addresses as string[] | null) ?? []).slice().sort(),
  }));
}
