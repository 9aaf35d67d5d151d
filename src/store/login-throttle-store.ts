import { asDate, type Queryable } from './database.js';

/** Consecutive failed logins per username index (ward_login_throttle, migration 4). */
export interface ThrottleRow {
  readonly failures: number;
  readonly lastAttemptAt: Date;
}

export async function readThrottle(q: Queryable, usernameIndex: Buffer): Promise<ThrottleRow | undefined> {
  const { rows } = await q.query(
    'SELECT failures, last_attempt_at FROM ward_login_throttle WHERE username_index = $1',
    [usernameIndex],
    'ward-throttle-read',
  );
  const r = rows[0];
  return r ? { failures: Number(r.failures), lastAttemptAt: asDate(r.last_attempt_at) } : undefined;
}

/**
 * Counts one attempt as a failure until it is proven right, if the count is still `expected`
 * (compare-and-set): of concurrent attempts, only one per count proceeds, so a burst cannot run
 * more password checks than the back-off allows. Returns false when another attempt won.
 */
export async function reserveAttempt(q: Queryable, usernameIndex: Buffer, expected: number, at: Date): Promise<boolean> {
  if (expected === 0) {
    const inserted = await q.query(
      'INSERT INTO ward_login_throttle (username_index, failures, last_attempt_at) VALUES ($1, 1, $2) ON CONFLICT (username_index) DO NOTHING',
      [usernameIndex, at],
    );
    if (inserted.rowCount === 1) return true;
  }
  const { rowCount } = await q.query(
    'UPDATE ward_login_throttle SET failures = failures + 1, last_attempt_at = $3 WHERE username_index = $1 AND failures = $2',
    [usernameIndex, expected, at],
  );
  return rowCount === 1;
}

/** A successful login clears the count (NIST SP 800-63B §3.2.2). */
export async function clearThrottle(q: Queryable, usernameIndex: Buffer): Promise<void> {
  await q.query('UPDATE ward_login_throttle SET failures = 0 WHERE username_index = $1', [usernameIndex]);
}
