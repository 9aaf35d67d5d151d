import { asBuffer, asDate, asNumber, type Queryable } from './database.js';

/** SQL for second factors: sealed TOTP secrets and hashed recovery codes (migration 8). */

export interface TotpRow {
  readonly userId: string;
  readonly keyId: string;
  readonly iv: Buffer;
  readonly secret: Buffer;
  readonly confirmedAt: Date | null;
  readonly lastCounter: number | null;
}

export async function findTotp(q: Queryable, userId: string): Promise<TotpRow | undefined> {
  const { rows } = await q.query('SELECT user_id, key_id, iv, secret, confirmed_at, last_counter FROM ward_mfa_totp WHERE user_id = $1', [
    userId,
  ]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    userId: String(r.user_id),
    keyId: String(r.key_id),
    iv: asBuffer(r.iv),
    secret: asBuffer(r.secret),
    confirmedAt: r.confirmed_at ? asDate(r.confirmed_at) : null,
    lastCounter: r.last_counter === null || r.last_counter === undefined ? null : asNumber(r.last_counter),
  };
}

/** Stores a new, unconfirmed secret, replacing an earlier unconfirmed one (a confirmed one is kept: the trigger refuses). */
export async function putPendingTotp(
  q: Queryable,
  t: { userId: string; keyId: string; iv: Buffer; secret: Buffer; at: Date },
): Promise<void> {
  await q.query(
    `INSERT INTO ward_mfa_totp (user_id, key_id, iv, secret, created_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id) DO UPDATE SET key_id = EXCLUDED.key_id, iv = EXCLUDED.iv, secret = EXCLUDED.secret,
       created_at = EXCLUDED.created_at, last_counter = NULL
     WHERE ward_mfa_totp.confirmed_at IS NULL`,
    [t.userId, t.keyId, t.iv, t.secret, t.at],
  );
}

/**
 * Accepts the TOTP time step `counter` for the account if it is newer than every step accepted
 * before (compare-and-set): a code, once used, is refused, even by a concurrent request.
 */
export async function acceptTotpCounter(q: Queryable, userId: string, counter: number, confirmAt?: Date): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE ward_mfa_totp SET last_counter = $2${confirmAt ? ', confirmed_at = $3' : ''}
     WHERE user_id = $1 AND (last_counter IS NULL OR last_counter < $2)${confirmAt ? ' AND confirmed_at IS NULL' : ' AND confirmed_at IS NOT NULL'}`,
    confirmAt ? [userId, counter, confirmAt] : [userId, counter],
  );
  return rowCount === 1;
}

export async function insertRecoveryCodes(q: Queryable, userId: string, hashes: readonly Buffer[], at: Date): Promise<void> {
  for (const h of hashes) {
    await q.query('INSERT INTO ward_recovery_code (code_hash, user_id, created_at) VALUES ($1, $2, $3)', [h, userId, at]);
  }
}

/** Marks an unused recovery code of this account used; false when there is none (unknown or already used). */
export async function useRecoveryCode(q: Queryable, userId: string, hash: Buffer, at: Date): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE ward_recovery_code SET used_at = $3 WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL',
    [hash, userId, at],
  );
  return rowCount === 1;
}

export async function countUnusedRecoveryCodes(q: Queryable, userId: string): Promise<number> {
  const { rows } = await q.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_recovery_code WHERE user_id = $1 AND used_at IS NULL', [
    userId,
  ]);
  return asNumber(rows[0]?.n ?? 0);
}
