import { asBuffer, asDate, type Queryable } from './database.js';

/**
 * What a patient's connected apps are made of: the authorization server's Grant rows for the
 * patient accounts linked to one Patient. Payloads stay sealed here; identity opens them.
 */
export interface GrantRow {
  readonly clientId: string;
  readonly clientName: string;
  readonly accountId: string;
  readonly idHash: Buffer;
  readonly keyId: string;
  readonly iv: Buffer;
  readonly payload: Buffer;
  readonly expiresAt: Date | null;
}

const PATIENT_ACCOUNTS = "SELECT id FROM ward_user WHERE kind = 'patient' AND fhir_user = $1";

export async function listGrantsOfPatient(q: Queryable, fhirUser: string, at: Date): Promise<GrantRow[]> {
  const { rows } = await q.query(
    `SELECT a.client_id, c.name AS client_name, a.account_id, a.id_hash, a.key_id, a.iv, a.payload, a.expires_at
       FROM ward_oauth_artifact a JOIN ward_client c ON c.client_id = a.client_id
      WHERE a.kind = 'Grant' AND a.account_id IN (${PATIENT_ACCOUNTS}) AND (a.expires_at IS NULL OR a.expires_at > $2)
      ORDER BY c.name, a.client_id`,
    [fhirUser, at],
  );
  return rows.map((r) => ({
    clientId: String(r.client_id),
    clientName: String(r.client_name),
    accountId: String(r.account_id),
    idHash: asBuffer(r.id_hash),
    keyId: String(r.key_id),
    iv: asBuffer(r.iv),
    payload: asBuffer(r.payload),
    expiresAt: r.expires_at === null ? null : asDate(r.expires_at),
  }));
}

/**
 * Revokes one app for one patient: every grant, code, access and refresh token and launch
 * context the app holds for the patient's accounts, in one statement.
 */
export async function deleteAppArtifactsOfPatient(q: Queryable, fhirUser: string, clientId: string): Promise<number> {
  const { rowCount } = await q.query(`DELETE FROM ward_oauth_artifact WHERE client_id = $2 AND account_id IN (${PATIENT_ACCOUNTS})`, [
    fhirUser,
    clientId,
  ]);
  return rowCount;
}

/** Marks a single-use artifact (an EHR launch id) used; false if it was already used or does not exist. */
export async function consumeArtifactOnce(q: Queryable, kind: string, idHash: Buffer, at: Date): Promise<boolean> {
  const { rowCount } = await q.query(
    'UPDATE ward_oauth_artifact SET consumed_at = $3 WHERE id_hash = $1 AND kind = $2 AND consumed_at IS NULL AND expires_at > $3',
    [idHash, kind, at],
  );
  return rowCount === 1;
}
