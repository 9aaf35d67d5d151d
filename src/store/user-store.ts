import { asBuffer, asDate, type Queryable } from './database.js';

/** SQL for accounts (ward_user) and their enrollment codes (ward_enrollment); see migration 4. */

export type UserKind = 'workforce' | 'patient';
export type UserStatus = 'invited' | 'active' | 'deactivated';

export interface UserRow {
  readonly id: string;
  readonly usernameIndex: Buffer;
  readonly kind: UserKind;
  readonly roles: readonly string[];
  readonly fhirUser: string;
  readonly organization: string | null;
  readonly profileKeyId: string;
  readonly profileIv: Buffer;
  readonly profile: Buffer;
  readonly status: UserStatus;
  readonly passwordHash: string | null;
  readonly passwordSetAt: Date | null;
  readonly createdAt: Date;
  readonly deactivatedAt: Date | null;
  /** Set while an operator's compromise mark stands: the account's sessions may only change the password (migration 19). */
  readonly passwordCompromisedAt: Date | null;
}

export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
}

const USER_COLUMNS = `id, username_index, kind, roles, fhir_user, organization, profile_key_id, profile_iv, profile, status,
  password_hash, password_set_at, created_at, deactivated_at, password_compromised_at`;

function userOf(r: Record<string, unknown>): UserRow {
  return {
    id: String(r.id),
    usernameIndex: asBuffer(r.username_index),
    kind: r.kind as UserKind,
    roles: r.roles as string[],
    fhirUser: String(r.fhir_user),
    organization: (r.organization as string | null) ?? null,
    profileKeyId: String(r.profile_key_id),
    profileIv: asBuffer(r.profile_iv),
    profile: asBuffer(r.profile),
    status: r.status as UserStatus,
    passwordHash: (r.password_hash as string | null) ?? null,
    passwordSetAt: r.password_set_at ? asDate(r.password_set_at) : null,
    createdAt: asDate(r.created_at),
    deactivatedAt: r.deactivated_at ? asDate(r.deactivated_at) : null,
    passwordCompromisedAt: r.password_compromised_at ? asDate(r.password_compromised_at) : null,
  };
}

/** Inserts an account; a username (by its index) that any account ever held raises UsernameTakenError. */
export async function insertUser(
  q: Queryable,
  user: Omit<UserRow, 'passwordHash' | 'passwordSetAt' | 'deactivatedAt' | 'passwordCompromisedAt'>,
): Promise<void> {
  const { rowCount } = await q.query(
    `INSERT INTO ward_user (id, username_index, kind, roles, fhir_user, organization, profile_key_id, profile_iv, profile, status, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (username_index) DO NOTHING`,
    [
      user.id,
      user.usernameIndex,
      user.kind,
      user.roles,
      user.fhirUser,
      user.organization,
      user.profileKeyId,
      user.profileIv,
      user.profile,
      user.status,
      user.createdAt,
    ],
  );
  if (rowCount === 0) throw new UsernameTakenError('username taken');
}

export async function findUserByUsernameIndex(q: Queryable, usernameIndex: Buffer, lock = false): Promise<UserRow | undefined> {
  const { rows } = await q.query(
    `SELECT ${USER_COLUMNS} FROM ward_user WHERE username_index = $1${lock ? ' FOR UPDATE' : ''}`,
    [usernameIndex],
    lock ? undefined : 'ward-user-by-username',
  );
  return rows[0] ? userOf(rows[0]) : undefined;
}

export async function findUserById(q: Queryable, id: string, lock = false): Promise<UserRow | undefined> {
  const { rows } = await q.query(`SELECT ${USER_COLUMNS} FROM ward_user WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? userOf(rows[0]) : undefined;
}

/** Every account, oldest first, up to `limit` (the admin API's list; a profile is opened by identity, not here). */
export async function listUsers(q: Queryable, limit: number): Promise<UserRow[]> {
  const { rows } = await q.query(`SELECT ${USER_COLUMNS} FROM ward_user ORDER BY created_at, id LIMIT $1`, [limit]);
  return rows.map(userOf);
}

/** What a login token's bearer check needs: the account's status, and when its roles or status last changed (privilege ledger). */
export async function findAccountStanding(q: Queryable, id: string): Promise<{ status: UserStatus; changedAt: Date | null } | undefined> {
  const { rows } = await q.query(
    `SELECT u.status, (SELECT max(c.at) FROM ward_privilege_change c WHERE c.user_id = u.id) AS changed_at
       FROM ward_user u WHERE u.id = $1`,
    [id],
    'ward-account-standing',
  );
  const r = rows[0];
  return r ? { status: r.status as UserStatus, changedAt: r.changed_at ? asDate(r.changed_at) : null } : undefined;
}

export async function deactivateUser(q: Queryable, id: string, at: Date): Promise<void> {
  await q.query(`UPDATE ward_user SET status = 'deactivated', deactivated_at = $2 WHERE id = $1`, [id, at]);
}

/** Sets the password of an invited account and makes it active. */
export async function setUserPassword(q: Queryable, id: string, passwordHash: string, at: Date): Promise<void> {
  await q.query(`UPDATE ward_user SET password_hash = $2, password_set_at = $3, status = 'active' WHERE id = $1`, [id, passwordHash, at]);
}

/** Replaces an active account's password (its status is left as it is); a new password lifts a compromise mark. */
export async function changeUserPassword(q: Queryable, id: string, passwordHash: string, at: Date): Promise<void> {
  await q.query('UPDATE ward_user SET password_hash = $2, password_set_at = $3, password_compromised_at = NULL WHERE id = $1', [
    id,
    passwordHash,
    at,
  ]);
}

/**
 * Marks an account's password compromised, with its row in the privilege ledger in the same
 * transaction (the guard trigger refuses the mark without it; migration 19).
 */
export async function markPasswordCompromised(
  tx: Queryable,
  m: { userId: string; actor: string; roles: readonly string[]; at: Date },
): Promise<void> {
  await tx.query(
    `INSERT INTO ward_privilege_change (user_id, actor, change, roles_before, roles_after, at) VALUES ($1, $2, 'mark-compromised', $3, $3, $4)`,
    [m.userId, m.actor, m.roles, m.at],
  );
  await tx.query('UPDATE ward_user SET password_compromised_at = $2 WHERE id = $1', [m.userId, m.at]);
}

export interface EnrollmentRow {
  readonly userId: string;
  readonly expiresAt: Date;
  readonly usedAt: Date | null;
}

export async function insertEnrollment(
  q: Queryable,
  e: { codeHash: Buffer; userId: string; createdAt: Date; expiresAt: Date },
): Promise<void> {
  await q.query('INSERT INTO ward_enrollment (code_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
    e.codeHash,
    e.userId,
    e.createdAt,
    e.expiresAt,
  ]);
}

/** The enrollment with this code digest; with `lock`, locked for the rest of the transaction (one redeemer at a time). */
export async function findEnrollment(q: Queryable, codeHash: Buffer, lock = false): Promise<EnrollmentRow | undefined> {
  const { rows } = await q.query(
    `SELECT user_id, expires_at, used_at FROM ward_enrollment WHERE code_hash = $1${lock ? ' FOR UPDATE' : ''}`,
    [codeHash],
  );
  const r = rows[0];
  return r ? { userId: String(r.user_id), expiresAt: asDate(r.expires_at), usedAt: r.used_at ? asDate(r.used_at) : null } : undefined;
}

export async function markEnrollmentUsed(tx: Queryable, codeHash: Buffer, at: Date): Promise<void> {
  await tx.query('UPDATE ward_enrollment SET used_at = $2 WHERE code_hash = $1', [codeHash, at]);
}

export type PrivilegeChange = 'grant-role' | 'revoke-role' | 'reactivate';

/**
 * Changes an account's roles or reactivates it, with its row in the insert-only privilege ledger
 * in the same transaction (the guard trigger refuses the change without it).
 */
export async function changePrivileges(
  tx: Queryable,
  c: { userId: string; actor: string; change: PrivilegeChange; before: readonly string[]; after: readonly string[]; at: Date },
): Promise<void> {
  await tx.query(
    'INSERT INTO ward_privilege_change (user_id, actor, change, roles_before, roles_after, at) VALUES ($1, $2, $3, $4, $5, $6)',
    [c.userId, c.actor, c.change, c.before, c.after, c.at],
  );
  if (c.change === 'reactivate') {
    await tx.query(
      `UPDATE ward_user SET status = CASE WHEN password_hash IS NULL THEN 'invited' ELSE 'active' END, deactivated_at = NULL WHERE id = $1`,
      [c.userId],
    );
  } else {
    await tx.query('UPDATE ward_user SET roles = $2 WHERE id = $1', [c.userId, c.after]);
  }
}
