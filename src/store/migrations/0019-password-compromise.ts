/**
 * A password marked compromised (issue 5; NIST SP 800-63B-4 §3.1.1.2: a change is forced when
 * there is evidence of compromise; ADR 0006).
 *
 * - `ward_user.password_compromised_at`: set by an operator's `ward user mark-compromised`; while
 *   it is set, every session of the account may do nothing but change the password (or log out).
 *   Only a workforce account can carry it: the forced change is proved by its second factor, and a
 *   patient account has only the password that leaked.
 * - Setting the mark needs its row in the insert-only privilege ledger in the same transaction
 *   (change `mark-compromised`), like a role change; clearing it needs a new password in the same
 *   UPDATE. The guard trigger checks both, so not even the serving connection can quietly lift it.
 */
export const migration0019 = {
  version: 19,
  name: 'password-compromise',
  sql: `
ALTER TABLE ward_user ADD COLUMN password_compromised_at timestamptz;
ALTER TABLE ward_user ADD CONSTRAINT ward_user_compromise_workforce
  CHECK (password_compromised_at IS NULL OR kind = 'workforce');

ALTER TABLE ward_privilege_change DROP CONSTRAINT ward_privilege_change_change_check;
ALTER TABLE ward_privilege_change ADD CONSTRAINT ward_privilege_change_change_check
  CHECK (change IN ('grant-role', 'revoke-role', 'reactivate', 'mark-compromised'));

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
  -- So does marking a password compromised.
  IF NEW.password_compromised_at IS NOT NULL AND NEW.password_compromised_at IS DISTINCT FROM OLD.password_compromised_at
      AND NOT EXISTS (
      SELECT 1 FROM ward_privilege_change c
      WHERE c.user_id = NEW.id AND c.xact = pg_current_xact_id()::text AND c.change = 'mark-compromised') THEN
    RAISE EXCEPTION 'marking a password compromised must be recorded as a privilege change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  -- The mark is lifted only by a new password.
  IF OLD.password_compromised_at IS NOT NULL AND NEW.password_compromised_at IS NULL
      AND NEW.password_hash IS NOT DISTINCT FROM OLD.password_hash THEN
    RAISE EXCEPTION 'a compromised password mark is cleared only by a new password' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
`,
} as const;
