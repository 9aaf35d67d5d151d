/**
 * Accounts and passwords (issue 5, ADR 0006).
 *
 * - `ward_user`: one row per account, never deleted (the serving role has no DELETE), so a user id
 *   — a random UUID — is never reissued (164.312(a)(2)(i)). The username is stored only as a
 *   keyed HMAC (unique, for look-up) and, with the display name, inside an AES-256-GCM sealed
 *   profile: a patient's login handle may be their e-mail address.
 * - `ward_enrollment`: single-use, expiring enrollment codes, stored only as SHA-256 digests.
 * - `ward_login_throttle`: consecutive failed logins per username HMAC — for every username tried,
 *   known or not, so throttling behaves the same for both (no user enumeration).
 */
export const migration0004 = {
  version: 4,
  name: 'identity',
  sql: `
CREATE TABLE ward_user (
  id               text PRIMARY KEY,
  username_index   bytea NOT NULL UNIQUE,
  kind             text NOT NULL CHECK (kind IN ('workforce', 'patient')),
  roles            text[] NOT NULL,
  fhir_user        text NOT NULL,
  organization     text,
  profile_key_id   text NOT NULL,
  profile_iv       bytea NOT NULL,
  profile          bytea NOT NULL,
  status           text NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
  password_hash    text,
  password_set_at  timestamptz,
  created_at       timestamptz NOT NULL,
  deactivated_at   timestamptz,
  -- A patient account is a patient and nothing else; a workforce account never holds patient,
  -- proxy or service roles (checked here too, not only in the application).
  CHECK ((kind = 'patient' AND roles = '{patient}' AND fhir_user LIKE 'Patient/%')
      OR (kind = 'workforce' AND NOT (roles && '{patient,proxy,system}')))
);

-- Deactivation is final for the serving role: no path re-activates an account.
CREATE FUNCTION ward_user_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.status = 'deactivated' AND NEW.status <> 'deactivated' THEN
    RAISE EXCEPTION 'a deactivated account stays deactivated' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.kind <> OLD.kind OR NEW.roles <> OLD.roles OR NEW.fhir_user <> OLD.fhir_user OR NEW.username_index <> OLD.username_index THEN
    RAISE EXCEPTION 'an account''s kind, roles, link and username do not change in place' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER ward_user_guard BEFORE UPDATE ON ward_user FOR EACH ROW EXECUTE FUNCTION ward_user_guard();

CREATE TABLE ward_enrollment (
  code_hash   bytea PRIMARY KEY,
  user_id     text NOT NULL REFERENCES ward_user (id),
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX ward_enrollment_user ON ward_enrollment (user_id);

CREATE TABLE ward_login_throttle (
  username_index   bytea PRIMARY KEY,
  failures         integer NOT NULL,
  last_attempt_at  timestamptz NOT NULL
);
`,
} as const;
