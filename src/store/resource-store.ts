import { type AuditRow, listParam } from './audit-store.js';
import { asBuffer, asDate, asNumber, type Queryable } from './database.js';
import { NO_SEARCH_ROWS, replaceSearchRowsCtes, type SearchIndexRows, searchRowsParam } from './search-index-store.js';

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One stored version as the database holds it: ciphertext and metadata, never plaintext. */
export interface StoredVersion {
  readonly seq: number;
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: number;
  readonly lastUpdated: Date;
  readonly method: WriteMethod;
  readonly deleted: boolean;
  readonly keyId: string | null;
  readonly iv: Buffer | null;
  readonly body: Buffer | null;
  readonly patients: readonly string[];
}

export interface NewVersion {
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: number;
  readonly lastUpdated: Date;
  readonly method: WriteMethod;
  readonly sealed: { keyId: string; iv: Buffer; ciphertext: Buffer } | null;
  readonly patients: readonly string[];
}

/** A version row's columns, in the order every statement that reads versions selects them. */
const VERSION_COLUMN_NAMES = [
  'seq',
  'resource_type',
  'id',
  'version_id',
  'last_updated',
  'method',
  'deleted',
  'key_id',
  'iv',
  'body',
  'patients',
];

export const VERSION_COLUMNS = VERSION_COLUMN_NAMES.map((c) => `v.${c}`).join(', ');

/**
 * A version's columns as a statement that returns many rows sends them: the patients as one
 * space-joined string (ids hold no spaces), which toStoredVersion splits. The driver's generic
 * text[] parser cost a 37-patient name search about a twentieth of its server CPU.
 */
export const versionColumnsOf = (alias: string): string =>
  VERSION_COLUMN_NAMES.map((c) => (c === 'patients' ? `array_to_string(${alias}.patients, ' ') AS patients` : `${alias}.${c}`)).join(', ');

export function toStoredVersion(row: Record<string, unknown>): StoredVersion {
  return {
    seq: asNumber(row.seq),
    resourceType: row.resource_type as string,
    id: row.id as string,
    versionId: Number(row.version_id),
    lastUpdated: asDate(row.last_updated),
    method: row.method as WriteMethod,
    deleted: row.deleted as boolean,
    keyId: (row.key_id as string | null) ?? null,
    iv: row.iv == null ? null : asBuffer(row.iv),
    body: row.body == null ? null : asBuffer(row.body),
    patients: patientsOf(row.patients as string[] | string | null),
  };
}

/** The patients column as a text[] (most statements) or space-joined (versionColumnsOf). */
function patientsOf(value: string[] | string | null): string[] {
  if (value == null) return [];
  if (typeof value !== 'string') return value;
  return value === '' ? [] : value.split(' ');
}

/** The current version of a resource (a tombstone when deleted), or undefined if it never existed. */
export async function readCurrent(q: Queryable, resourceType: string, id: string, forUpdate = false): Promise<StoredVersion | undefined> {
  if (forUpdate) {
    // Lock the pointer row on its own: a FOR UPDATE over the join would, after waiting for a
    // concurrent writer, re-check the join against the old version row and return nothing.
    await q.query('SELECT 1 FROM ward_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE', [resourceType, id]);
  }
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
      WHERE r.resource_type = $1 AND r.id = $2`,
    [resourceType, id],
    'ward_read_current',
  );
  return rows[0] ? toStoredVersion(rows[0]) : undefined;
}

export async function readVersion(q: Queryable, resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource_version v WHERE v.resource_type = $1 AND v.id = $2 AND v.version_id = $3`,
    [resourceType, id, versionId],
  );
  return rows[0] ? toStoredVersion(rows[0]) : undefined;
}

export interface HistoryQuery {
  readonly resourceType?: string;
  readonly id?: string;
  /** Only versions with seq below this cursor (pages run newest first, so new writes never shift a page). */
  readonly beforeSeq?: number;
  readonly since?: Date;
  readonly limit: number;
}

export async function readHistory(q: Queryable, h: HistoryQuery): Promise<StoredVersion[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (h.resourceType) add('v.resource_type = ?', h.resourceType);
  if (h.id) add('v.id = ?', h.id);
  if (h.beforeSeq !== undefined) add('v.seq < ?', h.beforeSeq);
  if (h.since) add('v.last_updated >= ?', h.since);
  params.push(h.limit);
  const { rows } = await q.query(
    `SELECT ${VERSION_COLUMNS} FROM ward_resource_version v ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY v.seq DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toStoredVersion);
}

/** A version ready to be written, with the search-index rows of its content. */
export interface PendingWrite {
  readonly version: NewVersion;
  /** The search-index rows of the version (none for a tombstone: a deleted resource matches no search). */
  readonly searchRows?: SearchIndexRows;
}

/** The resource moved on since it was read: another writer committed first. Nothing was stored. */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError';
}

/**
 * Writes a version, moves the current pointer, replaces the search-index rows and appends the
 * audit entry — in ONE statement, so it is atomic without a transaction and costs one round trip.
 * The statement first locks the current row and checks it is still the version the caller read
 * (version - 1, or absent for version 1); if another writer got there first it stores nothing and
 * WriteConflictError is thrown. Two writers creating the same new id collide on the primary key
 * (23505), with the same effect.
 */
const SEARCH_CTES = replaceSearchRowsCtes(22);

export async function commitWrite(q: Queryable, w: PendingWrite, audit: AuditRow): Promise<number> {
  const v = w.version;
  const { rows } = await q.query<{ seq: unknown }>(
    `WITH c AS (
       SELECT version_id FROM ward_resource WHERE resource_type = $1 AND id = $2 FOR UPDATE
     ), v AS (
       INSERT INTO ward_resource_version (resource_type, id, version_id, last_updated, method, deleted, key_id, iv, body, patients)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[]
        WHERE (SELECT version_id FROM c) IS NOT DISTINCT FROM $19::int
       RETURNING seq
     ), r AS (
       INSERT INTO ward_resource (resource_type, id, version_id, last_updated, deleted, current_seq, patients)
       SELECT $1, $2, $3, $4, $6, v.seq, $10::text[] FROM v
       ON CONFLICT (resource_type, id) DO UPDATE SET version_id = EXCLUDED.version_id, last_updated = EXCLUDED.last_updated,
         deleted = EXCLUDED.deleted, current_seq = EXCLUDED.current_seq, patients = EXCLUDED.patients
     )${SEARCH_CTES}, a AS (
       INSERT INTO ward_audit_entry (recorded_at, action, outcome, principal_id, patient_id, resource_type, resource_id, entry, patients, returned, leaf_hash)
       SELECT $11, $12, $13, $14, $15, $16, $17, $18, string_to_array($20, ' '), string_to_array($21, ' '), '\\x'::bytea
        WHERE EXISTS (SELECT 1 FROM v)
     )
     SELECT seq FROM v`,
    [
      v.resourceType,
      v.id,
      v.versionId,
      v.lastUpdated,
      v.method,
      v.sealed === null,
      v.sealed?.keyId ?? null,
      v.sealed?.iv ?? null,
      v.sealed?.ciphertext ?? null,
      v.patients,
      audit.recordedAt,
      audit.action,
      audit.outcome,
      audit.principalId,
      audit.patientId,
      audit.resourceType,
      audit.resourceId,
      audit.entry,
      v.versionId === 1 ? null : v.versionId - 1,
      listParam(audit.patients),
      listParam(audit.returned),
      searchRowsParam(w.searchRows ?? NO_SEARCH_ROWS),
    ],
    'ward_commit_write',
  );
  if (rows.length === 0) throw new WriteConflictError('the resource changed since it was read');
  return asNumber(rows[0]?.seq);
}
