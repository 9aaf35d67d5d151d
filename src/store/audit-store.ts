import { asBuffer, asDate, asNumber, type Queryable } from './database.js';

/** The columns of one audit row; `entry` is the canonical JSON, the rest are its query keys. */
export interface AuditRow {
  readonly recordedAt: Date;
  readonly action: string;
  readonly outcome: string;
  readonly principalId: string;
  readonly patientId: string | null;
  readonly resourceType: string | null;
  readonly resourceId: string | null;
  readonly entry: string;
}

export interface StoredAuditRow extends AuditRow {
  readonly seq: number;
  readonly leafHash: Buffer;
}

/** Appends rows in one multi-row INSERT; the trigger assigns each its leaf hash. */
export async function insertAuditRows(q: Queryable, rows: readonly AuditRow[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const params: unknown[] = [];
  const tuples = rows.map((r) => {
    const base = params.length;
    params.push(r.recordedAt, r.action, r.outcome, r.principalId, r.patientId, r.resourceType, r.resourceId, r.entry);
    return `(${Array.from({ length: 8 }, (_, i) => `$${base + i + 1}`).join(', ')}, '\\x'::bytea)`;
  });
  const result = await q.query<{ seq: unknown }>(
    `INSERT INTO ward_audit_entry (recorded_at, action, outcome, principal_id, patient_id, resource_type, resource_id, entry, leaf_hash)
     VALUES ${tuples.join(', ')} RETURNING seq`,
    params,
  );
  return result.rows.map((r) => asNumber(r.seq));
}

export interface AuditQuery {
  readonly afterSeq?: number;
  readonly limit: number;
}

export async function readAuditRows(q: Queryable, query: AuditQuery): Promise<StoredAuditRow[]> {
  const { rows } = await q.query(
    `SELECT seq, recorded_at, action, outcome, principal_id, patient_id, resource_type, resource_id, entry, leaf_hash
       FROM ward_audit_entry WHERE seq > $1 ORDER BY seq LIMIT $2`,
    [query.afterSeq ?? 0, query.limit],
  );
  return rows.map((r) => ({
    seq: asNumber(r.seq),
    recordedAt: asDate(r.recorded_at),
    action: r.action as string,
    outcome: r.outcome as string,
    principalId: r.principal_id as string,
    patientId: (r.patient_id as string | null) ?? null,
    resourceType: (r.resource_type as string | null) ?? null,
    resourceId: (r.resource_id as string | null) ?? null,
    entry: r.entry as string,
    leafHash: asBuffer(r.leaf_hash),
  }));
}
