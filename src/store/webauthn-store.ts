import { asBuffer, asNumber, type Queryable } from './database.js';

/** SQL for WebAuthn credentials and ceremony challenges (migration 8). */

export interface WebauthnCredentialRow {
  readonly credentialId: string;
  readonly userId: string;
  readonly publicKey: Buffer;
  readonly counter: number;
  readonly transports: readonly string[];
}

export async function insertWebauthnCredential(
  q: Queryable,
  c: { credentialId: string; userId: string; publicKey: Buffer; counter: number; transports: readonly string[]; at: Date },
): Promise<void> {
  await q.query(
    'INSERT INTO ward_webauthn_credential (credential_id, user_id, public_key, counter, transports, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    [c.credentialId, c.userId, c.publicKey, c.counter, c.transports, c.at],
  );
}

export async function listWebauthnCredentials(q: Queryable, userId: string): Promise<WebauthnCredentialRow[]> {
  const { rows } = await q.query(
    'SELECT credential_id, user_id, public_key, counter, transports FROM ward_webauthn_credential WHERE user_id = $1 ORDER BY created_at',
    [userId],
  );
  return rows.map((r) => ({
    credentialId: String(r.credential_id),
    userId: String(r.user_id),
    publicKey: asBuffer(r.public_key),
    counter: asNumber(r.counter),
    transports: (r.transports as string[]) ?? [],
  }));
}

/**
 * Records a use of a credential with the authenticator's new signature counter: it must move
 * forward unless the authenticator keeps none (both 0). False means a cloned authenticator or a
 * concurrent use, and the assertion is refused.
 */
export async function advanceWebauthnCounter(
  q: Queryable,
  credentialId: string,
  expected: number,
  next: number,
  at: Date,
): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE ward_webauthn_credential SET counter = $3, last_used_at = $4
     WHERE credential_id = $1 AND counter = $2 AND ($3 > $2 OR ($2 = 0 AND $3 = 0))`,
    [credentialId, expected, next, at],
  );
  return rowCount === 1;
}

export async function insertWebauthnChallenge(
  q: Queryable,
  c: { challenge: string; sessionHash: Buffer; purpose: 'register' | 'authenticate'; at: Date; expiresAt: Date },
): Promise<void> {
  await q.query(
    'INSERT INTO ward_webauthn_challenge (challenge, session_hash, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
    [c.challenge, c.sessionHash, c.purpose, c.at, c.expiresAt],
  );
}

/** Spends a challenge issued to this session for this purpose, if it is unused and unexpired (compare-and-set). */
export async function consumeWebauthnChallenge(
  q: Queryable,
  c: { challenge: string; sessionHash: Buffer; purpose: 'register' | 'authenticate'; at: Date },
): Promise<boolean> {
  const { rowCount } = await q.query(
    `UPDATE ward_webauthn_challenge SET used_at = $4
     WHERE challenge = $1 AND session_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $4`,
    [c.challenge, c.sessionHash, c.purpose, c.at],
  );
  return rowCount === 1;
}
