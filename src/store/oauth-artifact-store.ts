import { asBuffer, asDate, type Queryable } from './database.js';

/**
 * What the authorization server stores (ward_oauth_artifact, migration 11): rows keyed by keyed
 * hashes of token and code values, payloads sealed by the caller. This module never sees a token.
 */
export interface ArtifactRow {
  readonly kind: string;
  readonly idHash: Buffer;
  readonly grantHash: Buffer | null;
  readonly uidHash: Buffer | null;
  readonly userCodeHash: Buffer | null;
  readonly clientId: string | null;
  readonly accountId: string | null;
  readonly keyId: string;
  readonly iv: Buffer;
  readonly payload: Buffer;
  readonly expiresAt: Date | null;
}

export interface StoredArtifact extends ArtifactRow {
  readonly consumedAt: Date | null;
}

const COLUMNS = 'kind, id_hash, grant_hash, uid_hash, user_code_hash, client_id, account_id, key_id, iv, payload, expires_at, consumed_at';

function rowOf(r: Record<string, unknown>): StoredArtifact {
  const buf = (v: unknown) => (v === null || v === undefined ? null : asBuffer(v));
  return {
    kind: String(r.kind),
    idHash: asBuffer(r.id_hash),
    grantHash: buf(r.grant_hash),
    uidHash: buf(r.uid_hash),
    userCodeHash: buf(r.user_code_hash),
    clientId: r.client_id === null ? null : String(r.client_id),
    accountId: r.account_id === null ? null : String(r.account_id),
    keyId: String(r.key_id),
    iv: asBuffer(r.iv),
    payload: asBuffer(r.payload),
    expiresAt: r.expires_at === null ? null : asDate(r.expires_at),
    consumedAt: r.consumed_at === null ? null : asDate(r.consumed_at),
  };
}

export async function upsertArtifact(q: Queryable, a: ArtifactRow): Promise<void> {
  await q.query(
    `INSERT INTO ward_oauth_artifact (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)
     ON CONFLICT (id_hash, kind) DO UPDATE SET grant_hash = EXCLUDED.grant_hash, uid_hash = EXCLUDED.uid_hash,
       user_code_hash = EXCLUDED.user_code_hash, client_id = EXCLUDED.client_id, account_id = EXCLUDED.account_id,
       key_id = EXCLUDED.key_id, iv = EXCLUDED.iv, payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at`,
    [a.kind, a.idHash, a.grantHash, a.uidHash, a.userCodeHash, a.clientId, a.accountId, a.keyId, a.iv, a.payload, a.expiresAt],
    'ward-artifact-upsert',
  );
}

/**
 * Inserts a row only if none has its key; false when one already did. Client-assertion ids are
 * recorded this way, so two concurrent uses of one assertion cannot both pass (RFC 7523 §3 7.).
 */
export async function insertArtifactOnce(q: Queryable, a: ArtifactRow): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO ward_oauth_artifact (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL)
     ON CONFLICT (id_hash, kind) DO NOTHING`,
    [a.kind, a.idHash, a.grantHash, a.uidHash, a.userCodeHash, a.clientId, a.accountId, a.keyId, a.iv, a.payload, a.expiresAt],
  );
  return rowCount === 1;
}

export async function findArtifact(q: Queryable, kind: string, idHash: Buffer): Promise<StoredArtifact | undefined> {
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM ward_oauth_artifact WHERE id_hash = $1 AND kind = $2`,
    [idHash, kind],
    'ward-artifact-find',
  );
  return rows[0] ? rowOf(rows[0]) : undefined;
}

export async function findArtifactBy(
  q: Queryable,
  kind: string,
  column: 'uid_hash' | 'user_code_hash',
  hash: Buffer,
): Promise<StoredArtifact | undefined> {
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM ward_oauth_artifact WHERE ${column} = $1 AND kind = $2 LIMIT 1`, [hash, kind]);
  return rows[0] ? rowOf(rows[0]) : undefined;
}

export async function consumeArtifact(q: Queryable, kind: string, idHash: Buffer, at: Date): Promise<void> {
  await q.query('UPDATE ward_oauth_artifact SET consumed_at = $3 WHERE id_hash = $1 AND kind = $2 AND consumed_at IS NULL', [
    idHash,
    kind,
    at,
  ]);
}

export async function deleteArtifact(q: Queryable, kind: string, idHash: Buffer): Promise<void> {
  await q.query('DELETE FROM ward_oauth_artifact WHERE id_hash = $1 AND kind = $2', [idHash, kind]);
}

/** Revokes a grant: every token, code and the grant itself that share it go at once. */
export async function deleteArtifactsOfGrant(q: Queryable, grantHash: Buffer): Promise<void> {
  await q.query('DELETE FROM ward_oauth_artifact WHERE grant_hash = $1', [grantHash]);
}

/** A suspended client's tokens, codes and grants are deleted in the transaction that suspends it. */
export async function deleteArtifactsOfClient(q: Queryable, clientId: string): Promise<number> {
  const { rowCount } = await q.query("DELETE FROM ward_oauth_artifact WHERE client_id = $1 AND kind <> 'ReplayDetection'", [clientId]);
  return rowCount;
}

/**
 * Everything the authorization server holds for one account — grants, codes, access and refresh
 * tokens, its sign-in session — deleted at once (a password marked compromised).
 */
export async function deleteArtifactsOfAccount(q: Queryable, accountId: string): Promise<number> {
  const { rowCount } = await q.query("DELETE FROM ward_oauth_artifact WHERE account_id = $1 AND kind <> 'ReplayDetection'", [accountId]);
  return rowCount;
}

/**
 * The bearer check's one query: a live access token by its keyed hash, with the state of its
 * client and of its user account, so suspension and deactivation take effect on the next request.
 */
export interface LiveAccessToken {
  readonly artifact: StoredArtifact;
  readonly clientState: string | null;
  readonly accountStatus: string | null;
  /** The account's roles and FHIR user, when the token acts for a user. */
  readonly accountRoles: readonly string[];
  readonly accountFhirUser: string | null;
}

export async function findLiveAccessToken(q: Queryable, idHash: Buffer): Promise<LiveAccessToken | undefined> {
  const { rows } = await q.query(
    `SELECT a.kind, a.id_hash, a.grant_hash, a.uid_hash, a.user_code_hash, a.client_id, a.account_id, a.key_id, a.iv, a.payload,
            a.expires_at, a.consumed_at, c.state AS client_state, u.status AS account_status,
            u.roles AS account_roles, u.fhir_user AS account_fhir_user
       FROM ward_oauth_artifact a
       LEFT JOIN ward_client c ON c.client_id = a.client_id
       LEFT JOIN ward_user u ON u.id = a.account_id
      WHERE a.id_hash = $1 AND a.kind IN ('AccessToken', 'ClientCredentials')`,
    [idHash],
    'ward-access-token-live',
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    artifact: rowOf(r),
    clientState: r.client_state === null || r.client_state === undefined ? null : String(r.client_state),
    accountStatus: r.account_status === null || r.account_status === undefined ? null : String(r.account_status),
    accountRoles: (r.account_roles as string[] | null) ?? [],
    accountFhirUser: r.account_fhir_user === null || r.account_fhir_user === undefined ? null : String(r.account_fhir_user),
  };
}
