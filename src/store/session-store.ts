import { asDate, type Queryable } from './database.js';

/** SQL for web sessions (ward_session, migration 8): rows keyed by the SHA-256 of the session id. */

export type SessionState = 'mfa-enrollment' | 'mfa-pending' | 'authenticated';
/** How a session's holder last stepped up (migration 14): a fresh TOTP code or a WebAuthn assertion. */
export type StepUpMethod = 'totp' | 'webauthn';

export interface SessionRow {
  readonly handle: string;
  readonly userId: string;
  readonly state: SessionState;
  readonly createdAt: Date;
  readonly lastSeenAt: Date;
  readonly expiresAt: Date;
  readonly createdAddress: string | null;
  readonly revokedAt: Date | null;
  /** The step-up this session was created with, if any (ADR 0014); never changed in place. */
  readonly stepUp: { readonly at: Date; readonly method: StepUpMethod } | null;
}

const COLUMNS = 'handle, user_id, state, created_at, last_seen_at, expires_at, created_address, revoked_at, step_up_at, step_up_method';

function sessionOf(r: Record<string, unknown>): SessionRow {
  return {
    handle: String(r.handle),
    userId: String(r.user_id),
    state: r.state as SessionState,
    createdAt: asDate(r.created_at),
    lastSeenAt: asDate(r.last_seen_at),
    expiresAt: asDate(r.expires_at),
    createdAddress: (r.created_address as string | null) ?? null,
    revokedAt: r.revoked_at ? asDate(r.revoked_at) : null,
    stepUp: r.step_up_at ? { at: asDate(r.step_up_at), method: r.step_up_method as StepUpMethod } : null,
  };
}

export async function insertSession(
  q: Queryable,
  s: {
    idHash: Buffer;
    handle: string;
    userId: string;
    state: SessionState;
    at: Date;
    expiresAt: Date;
    address: string | null;
    stepUp?: { at: Date; method: StepUpMethod };
  },
): Promise<void> {
  await q.query(
    `INSERT INTO ward_session (id_hash, handle, user_id, state, created_at, last_seen_at, expires_at, created_address, step_up_at, step_up_method)
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)`,
    [s.idHash, s.handle, s.userId, s.state, s.at, s.expiresAt, s.address, s.stepUp?.at ?? null, s.stepUp?.method ?? null],
  );
}

/** The session with this id hash, whatever its state (the caller decides whether it is still good). */
export async function findSession(q: Queryable, idHash: Buffer, lock = false): Promise<SessionRow | undefined> {
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM ward_session WHERE id_hash = $1${lock ? ' FOR UPDATE' : ''}`,
    [idHash],
    lock ? undefined : 'ward-session-by-id',
  );
  return rows[0] ? sessionOf(rows[0]) : undefined;
}

export async function touchSession(q: Queryable, idHash: Buffer, at: Date): Promise<void> {
  await q.query('UPDATE ward_session SET last_seen_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL', [idHash, at], 'ward-session-touch');
}

/** Revokes one session by id hash; false when it was already revoked or unknown. */
export async function revokeSession(q: Queryable, idHash: Buffer, at: Date, reason: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE ward_session SET revoked_at = $2, revoked_reason = $3 WHERE id_hash = $1 AND revoked_at IS NULL',
    [idHash, at, reason],
  );
  return rowCount === 1;
}

/** Revokes one of a user's sessions by its public handle. */
export async function revokeSessionByHandle(q: Queryable, userId: string, handle: string, at: Date, reason: string): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE ward_session SET revoked_at = $3, revoked_reason = $4 WHERE user_id = $1 AND handle = $2 AND revoked_at IS NULL',
    [userId, handle, at, reason],
  );
  return rowCount === 1;
}

/** Revokes every open session of a user at once; returns how many. */
export async function revokeUserSessions(q: Queryable, userId: string, at: Date, reason: string): Promise<number> {
  const { rowCount } = await q.query(
    'UPDATE ward_session SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL',
    [userId, at, reason],
  );
  return rowCount;
}

/** A user's sessions that are not revoked and not past their absolute lifetime, newest first. */
export async function listUserSessions(q: Queryable, userId: string, now: Date): Promise<SessionRow[]> {
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM ward_session WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, handle`,
    [userId, now],
  );
  return rows.map(sessionOf);
}
