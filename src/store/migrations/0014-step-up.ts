/**
 * MFA step-up for sensitive operations (issue 5 §3, ADR 0014).
 *
 * A web session records when and how its holder last proved a second factor again
 * (`POST /auth/step-up`). The stamp is written only when the session is created: a step-up
 * replaces the session by a new one (new id, same absolute end) that carries it, exactly like
 * the other steps of ADR 0010, so a cookie copied before the step-up never gains what the
 * step-up grants. The guard therefore forbids changing the stamp in place, and the serving role
 * gets no UPDATE on these columns.
 */
export const migration0014 = {
  version: 14,
  name: 'step-up',
  sql: `
ALTER TABLE ward_session ADD COLUMN step_up_at timestamptz;
ALTER TABLE ward_session ADD COLUMN step_up_method text CHECK (step_up_method IN ('totp', 'webauthn'));
ALTER TABLE ward_session ADD CONSTRAINT ward_session_step_up_whole
  CHECK ((step_up_at IS NULL) = (step_up_method IS NULL) AND (step_up_at IS NULL OR state = 'authenticated'));

CREATE OR REPLACE FUNCTION ward_session_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
    RAISE EXCEPTION 'a revoked session stays revoked' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.state <> OLD.state OR NEW.user_id <> OLD.user_id OR NEW.expires_at <> OLD.expires_at
      OR NEW.step_up_at IS DISTINCT FROM OLD.step_up_at OR NEW.step_up_method IS DISTINCT FROM OLD.step_up_method THEN
    RAISE EXCEPTION 'a session is replaced, not changed in place' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
`,
} as const;
