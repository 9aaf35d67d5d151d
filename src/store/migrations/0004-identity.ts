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
  deactivated_at   timestamptz
);

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
