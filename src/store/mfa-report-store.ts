import type { Queryable } from './database.js';

/** What the (d)(13) compliance report counts: accounts by kind and state, and each workforce account's enrolled factors. */
export interface MfaEnrollmentCounts {
  readonly workforceActive: number;
  readonly workforceInvited: number;
  readonly withTotp: number;
  readonly withWebauthn: number;
  /** Active workforce accounts with no confirmed TOTP and no WebAuthn credential: how many, and their ids (ordered, at most the limit). */
  readonly withoutCount: number;
  readonly withoutSecondFactor: readonly string[];
  readonly passwordChangeRequired: number;
  readonly patientActive: number;
}

/**
 * Reads ids, kinds, states and whether a factor exists — never a profile, a secret or a key.
 * `listLimit` bounds the ids returned; the count is exact.
 */
export async function countMfaEnrollment(q: Queryable, listLimit: number): Promise<MfaEnrollmentCounts> {
  const { rows } = await q.query<Record<string, unknown>>(
    `SELECT
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'active') AS workforce_active,
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'invited') AS workforce_invited,
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'active' AND t.user_id IS NOT NULL) AS with_totp,
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'active' AND w.user_id IS NOT NULL) AS with_webauthn,
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'active' AND t.user_id IS NULL AND w.user_id IS NULL) AS without_factor,
       count(*) FILTER (WHERE u.kind = 'workforce' AND u.status = 'active' AND u.password_compromised_at IS NOT NULL) AS change_required,
       count(*) FILTER (WHERE u.kind = 'patient' AND u.status = 'active') AS patient_active
     FROM ward_user u
     LEFT JOIN (SELECT user_id FROM ward_mfa_totp WHERE confirmed_at IS NOT NULL) t ON t.user_id = u.id
     LEFT JOIN (SELECT DISTINCT user_id FROM ward_webauthn_credential) w ON w.user_id = u.id`,
  );
  const { rows: ids } = await q.query<{ id: string }>(
    `SELECT u.id FROM ward_user u
      WHERE u.kind = 'workforce' AND u.status = 'active'
        AND NOT EXISTS (SELECT 1 FROM ward_mfa_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM ward_webauthn_credential w WHERE w.user_id = u.id)
      ORDER BY u.id LIMIT $1`,
    [listLimit],
  );
  const r = rows[0] ?? {};
  const n = (v: unknown) => Number(v ?? 0);
  return {
    workforceActive: n(r.workforce_active),
    workforceInvited: n(r.workforce_invited),
    withTotp: n(r.with_totp),
    withWebauthn: n(r.with_webauthn),
    withoutCount: n(r.without_factor),
    withoutSecondFactor: ids.map((i) => String(i.id)),
    passwordChangeRequired: n(r.change_required),
    patientActive: n(r.patient_active),
  };
}
