import { asBuffer, asDate, type Queryable } from './database.js';

/** SQL for break-glass grants and their review (ward_break_glass_grant, migration 12). */

export type ReviewStatus = 'open' | 'acknowledged' | 'escalated';

export interface BreakGlassGrantRow {
  readonly id: string;
  readonly principal: string;
  readonly patient: string;
  readonly reasonCode: string;
  readonly keyId: string;
  readonly iv: Buffer;
  readonly justification: Buffer;
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly createdAt: Date;
  readonly reviewStatus: ReviewStatus;
  readonly reviewedBy: string | null;
  readonly reviewedAt: Date | null;
}

const COLUMNS = `id, principal, patient, reason_code, key_id, iv, justification, starts_at, ends_at, created_at,
  review_status, reviewed_by, reviewed_at`;

function grantOf(r: Record<string, unknown>): BreakGlassGrantRow {
  return {
    id: String(r.id),
    principal: String(r.principal),
    patient: String(r.patient),
    reasonCode: String(r.reason_code),
    keyId: String(r.key_id),
    iv: asBuffer(r.iv),
    justification: asBuffer(r.justification),
    startsAt: asDate(r.starts_at),
    endsAt: asDate(r.ends_at),
    createdAt: asDate(r.created_at),
    reviewStatus: r.review_status as ReviewStatus,
    reviewedBy: (r.reviewed_by as string | null) ?? null,
    reviewedAt: r.reviewed_at == null ? null : asDate(r.reviewed_at),
  };
}

export async function insertGrant(q: Queryable, g: Omit<BreakGlassGrantRow, 'reviewStatus' | 'reviewedBy' | 'reviewedAt'>): Promise<void> {
  await q.query(
    `INSERT INTO ward_break_glass_grant (id, principal, patient, reason_code, key_id, iv, justification, starts_at, ends_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [g.id, g.principal, g.patient, g.reasonCode, g.keyId, g.iv, g.justification, g.startsAt, g.endsAt, g.createdAt],
  );
}

/** Grants by review status, oldest first (the privacy officers' queue). */
export async function listGrants(q: Queryable, status: ReviewStatus | undefined, limit: number): Promise<BreakGlassGrantRow[]> {
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM ward_break_glass_grant ${status ? 'WHERE review_status = $2' : ''} ORDER BY created_at, id LIMIT $1`,
    status ? [limit, status] : [limit],
  );
  return rows.map(grantOf);
}

export async function readGrant(q: Queryable, id: string): Promise<BreakGlassGrantRow | undefined> {
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM ward_break_glass_grant WHERE id = $1`, [id]);
  return rows[0] ? grantOf(rows[0]) : undefined;
}

/** Records the one review of an open grant; false when it was not open (reviewed already, or by a concurrent reviewer). */
export async function reviewGrant(q: Queryable, id: string, status: Exclude<ReviewStatus, 'open'>, by: string, at: Date): Promise<boolean> {
  const { rows } = await q.query(
    `UPDATE ward_break_glass_grant SET review_status = $2, reviewed_by = $3, reviewed_at = $4
      WHERE id = $1 AND review_status = 'open' RETURNING id`,
    [id, status, by, at],
  );
  return rows.length === 1;
}
