import { type AuditRow, insertAuditRows } from './audit-store.js';
import type { Queryable } from './database.js';
import { type PendingWrite, type StoredVersion, toStoredVersion, VERSION_COLUMNS, WriteConflictError } from './resource-store.js';
import { NO_SEARCH_ROWS, replaceBatchSearchRowsCtes, searchRowsJson } from './search-index-store.js';

export interface ResourceKey {
  readonly resourceType: string;
  readonly id: string;
}

/** The map key of a resource in the batch functions: `Type/id`. */
export const resourceKey = (k: ResourceKey): string => `${k.resourceType}/${k.id}`;

/**
 * The current versions of many resources, each pointer row locked for the rest of the transaction
 * (one query for the locks, one for the rows, whatever their number). The locks are taken in one
 * fixed order, so two batches that share resources queue instead of deadlocking; as in
 * readCurrent, the pointer rows are locked on their own, before the join reads them.
 */
export async function readCurrentLocked(q: Queryable, keys: readonly ResourceKey[]): Promise<Map<string, StoredVersion>> {
  const found = new Map<string, StoredVersion>();
  if (keys.length === 0) return found;
  const params = [keys.map((k) => k.resourceType), keys.map((k) => k.id)];
  await q.query(
    `SELECT 1 FROM ward_resource WHERE (resource_type, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
      ORDER BY resource_type, id FOR UPDATE`,
    params,
  );
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE (r.resource_type, r.id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    params,
  );
  for (const row of rows) {
    const version = toStoredVersion(row);
    found.set(resourceKey(version), version);
  }
  return found;
}

/** One write of a batch: its version, and the audit entry that records it. */
export interface BatchWrite {
  readonly pending: PendingWrite;
  readonly audit: AuditRow;
}

const BATCH_SEARCH_CTES = replaceBatchSearchRowsCtes();

/**
 * Commits many versions inside the caller's transaction: the versions, pointers and search rows
 * in one statement, then their audit entries in one more, instead of one statement per resource.
 * Each version is written only if its resource is still at the version it was prepared from
 * (otherwise nothing is, and WriteConflictError rolls the transaction back); the caller holds
 * the locks (readCurrentLocked). A resource may appear only once per batch. Version and audit
 * rows are inserted in the batch's order.
 */
export async function commitWrites(q: Queryable, writes: readonly BatchWrite[]): Promise<void> {
  if (writes.length === 0) return;
  const input = writes.map(({ pending: { version: v, searchRows } }) => ({
    t: v.resourceType,
    i: v.id,
    v: v.versionId,
    lu: v.lastUpdated.toISOString(),
    m: v.method,
    d: v.sealed === null,
    k: v.sealed?.keyId ?? null,
    // base64, a third the size of hex: the bodies are most of the statement's text.
    iv: v.sealed?.iv.toString('base64') ?? null,
    b: v.sealed?.ciphertext.toString('base64') ?? null,
    // Patient ids hold no spaces (FHIR ids), so the list travels space-joined, as audit lists do.
    p: v.patients.join(' '),
    e: v.versionId === 1 ? null : v.versionId - 1,
    s: searchRowsJson(searchRows ?? NO_SEARCH_ROWS),
  }));
  const { rows } = await q.query<{ n: number }>(
    `WITH w AS (
       SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (t text, i text, v int, lu timestamptz, m text, d boolean,
              k text, iv text, b text, p text, e int, s jsonb)) WITH ORDINALITY AS w(t, i, v, lu, m, d, k, iv, b, p, e, s, n)
     ), c AS (
       SELECT r.resource_type, r.id, r.version_id FROM ward_resource r JOIN w ON r.resource_type = w.t AND r.id = w.i FOR UPDATE OF r
     ), v AS (
       INSERT INTO ward_resource_version (resource_type, id, version_id, last_updated, method, deleted, key_id, iv, body, patients)
       SELECT w.t, w.i, w.v, w.lu, w.m, w.d, w.k, decode(w.iv, 'base64'), decode(w.b, 'base64'), string_to_array(w.p, ' ')
         FROM w LEFT JOIN c ON c.resource_type = w.t AND c.id = w.i
        WHERE c.version_id IS NOT DISTINCT FROM w.e
        ORDER BY w.n
       RETURNING seq, resource_type, id
     ), r AS (
       INSERT INTO ward_resource (resource_type, id, version_id, last_updated, deleted, current_seq, patients)
       SELECT w.t, w.i, w.v, w.lu, w.d, v.seq, string_to_array(w.p, ' ') FROM v JOIN w ON w.t = v.resource_type AND w.i = v.id
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
         deleted = EXCLUDED.deleted, current_seq = EXCLUDED.current_seq, patients = EXCLUDED.patients
     )${BATCH_SEARCH_CTES}
     SELECT count(*)::int AS n FROM v`,
    [JSON.stringify(input)],
    'ward_commit_writes',
  );
  if (Number(rows[0]?.n) !== writes.length) throw new WriteConflictError('a resource of the batch changed since it was read');
  await insertAuditRows(
    q,
    writes.map((w) => w.audit),
  );
}
