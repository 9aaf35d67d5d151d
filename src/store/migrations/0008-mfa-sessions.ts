/**
 * Second factors, web sessions and privilege changes (issue 5, ADR 0010).
 *
 * - `ward_mfa_totp`: one TOTP secret per account, sealed with AES-256-GCM (AAD = the account id);
 *   `last_counter` is the newest time step accepted, so a code is never accepted twice.
 * - `ward_recovery_code`: one-time recovery codes, stored only as keyed hashes.
 * - `ward_session`: server-side web sessions, keyed by the SHA-256 of the session id (the id
 *   itself is never stored). A session changes state only by being replaced (rotation), so the
 *   serving role may update only its activity and revocation columns.
 * - `ward_webauthn_credential` / `ward_webauthn_challenge`: passkeys and security keys (public keys
 *   and signature counters) and the single-use challenge of each ceremony, bound to its session.
 * - `ward_user`: roles may now change, and a deactivated account may be reactivated, but only
 *   by an operator command that records the change in `ward_privilege_change` (insert-only) in
 *   the same transaction — the guard trigger checks it — and an administrative role never sits
 *   beside a day-to-day one (NPRM 164.312(a)(2)(ii)).
 */
export const migration0008 = {
  version: 8,
  name: 'mfa-sessions',
  sql: `
CREATE TABLE ward_mfa_totp (
  user_id       text PRIMARY KEY REFERENCES ward_user (id),
  key_id        text NOT NULL,
  iv            bytea NOT NULL,
  secret        bytea NOT NULL,
  created_at    timestamptz NOT NULL,
  confirmed_at  timestamptz,
  last_counter  bigint
);

-- A confirmed secret is fixed, and the replay mark only moves forward.
CREATE FUNCTION ward_mfa_totp_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.confirmed_at IS NOT NULL AND (NEW.secret <> OLD.secret OR NEW.iv <> OLD.iv OR NEW.key_id <> OLD.key_id
      OR NEW.confirmed_at IS DISTINCT FROM OLD.confirmed_at) THEN
    RAISE EXCEPTION 'a confirmed TOTP secret does not change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.last_counter IS NOT NULL AND (NEW.last_counter IS NULL OR NEW.last_counter <= OLD.last_counter) THEN
    RAISE EXCEPTION 'the TOTP replay mark only moves forward' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER ward_mfa_totp_guard BEFORE UPDATE ON ward_mfa_totp FOR EACH ROW EXECUTE FUNCTION ward_mfa_totp_guard();

CREATE TABLE ward_recovery_code (
  code_hash   bytea PRIMARY KEY,
  user_id     text NOT NULL REFERENCES ward_user (id),
  created_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX ward_recovery_code_user ON ward_recovery_code (user_id);

CREATE FUNCTION ward_recovery_code_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.used_at IS NOT NULL THEN
    RAISE EXCEPTION 'a used recovery code stays used' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER ward_recovery_code_guard BEFORE UPDATE ON ward_recovery_code FOR EACH ROW EXECUTE FUNCTION ward_recovery_code_guard();

CREATE TABLE ward_session (
  id_hash          bytea PRIMARY KEY,
  handle           text NOT NULL UNIQUE,
  user_id          text NOT NULL REFERENCES ward_user (id),
  state            text NOT NULL CHECK (state IN ('mfa-enrollment', 'mfa-pending', 'authenticated')),
  created_at       timestamptz NOT NULL,
  last_seen_at     timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  created_address  text,
  revoked_at       timestamptz,
  revoked_reason   text
);
CREATE INDEX ward_session_user ON ward_session (user_id);

-- A revoked session stays revoked, and nothing but activity and revocation changes in place.
CREATE FUNCTION ward_session_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    RAISE EXCEPTION 'a revoked session stays revoked' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.state <> OLD.state OR NEW.user_id <> OLD.user_id OR NEW.expires_at <> OLD.expires_at THEN
    RAISE EXCEPTION 'a session is replaced, not changed in place' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER ward_session_guard BEFORE UPDATE ON ward_session FOR EACH ROW EXECUTE FUNCTION ward_session_guard();

-- WebAuthn credentials (public keys: not secret) and the single-use challenges of each ceremony,
-- bound to the session that asked for them.
CREATE TABLE ward_webauthn_credential (
  credential_id  text PRIMARY KEY,
  user_id        text NOT NULL REFERENCES ward_user (id),
  public_key     bytea NOT NULL,
  counter        bigint NOT NULL,
  transports     text[] NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL,
  last_used_at   timestamptz
);
CREATE INDEX ward_webauthn_credential_user ON ward_webauthn_credential (user_id);

CREATE TABLE ward_webauthn_challenge (
  challenge     text PRIMARY KEY,
  session_hash  bytea NOT NULL,
  purpose       text NOT NULL CHECK (purpose IN ('register', 'authenticate')),
  created_at    timestamptz NOT NULL,
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz
);
CREATE INDEX ward_webauthn_challenge_session ON ward_webauthn_challenge (session_hash);

-- Every change of an account's roles or status made after it was created, insert-only.
CREATE TABLE ward_privilege_change (
  id            bigserial PRIMARY KEY,
  user_id       text NOT NULL REFERENCES ward_user (id),
  actor         text NOT NULL,
  change        text NOT NULL CHECK (change IN ('grant-role', 'revoke-role', 'reactivate')),
  roles_before  text[] NOT NULL,
  roles_after   text[] NOT NULL,
  at            timestamptz NOT NULL,
  xact          text NOT NULL DEFAULT pg_current_xact_id()::text
);
CREATE INDEX ward_privilege_change_user ON ward_privilege_change (user_id, xact);

CREATE OR REPLACE FUNCTION ward_user_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF NEW.kind <> OLD.kind OR NEW.fhir_user <> OLD.fhir_user OR NEW.username_index <> OLD.username_index THEN
    RAISE EXCEPTION 'an account''s kind, link and username do not change in place' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- A role change or a reactivation needs its ledger row in this very transaction.
  IF (NEW.roles <> OLD.roles OR (OLD.status = 'deactivated' AND NEW.status <> 'deactivated')) AND NOT EXISTS (
      SELECT 1 FROM ward_privilege_change c
      WHERE c.user_id = NEW.id AND c.xact = pg_current_xact_id()::text AND c.roles_after = NEW.roles) THEN
    RAISE EXCEPTION 'a role change or reactivation must be recorded as a privilege change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;

-- Separation of duties: an administrative role is never held beside a day-to-day one.
ALTER TABLE ward_user ADD CONSTRAINT ward_user_admin_separate
  CHECK (NOT ('system-admin' = ANY (roles) AND cardinality(roles) > 1)) NOT VALID;
`,
} as const;
