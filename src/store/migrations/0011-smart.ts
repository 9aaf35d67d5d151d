/**
 * SMART on FHIR authorization server and third-party app governance (issue 5 items 5–7, ADR 0013).
 *
 * - `ward_client`: the client registry. Approval state moves pending → approved → suspended and
 *   never back for the serving role (a trigger holds it): a suspended app is registered anew after
 *   review, with a new client id, so an old id never regains access. Never deleted.
 * - `ward_oauth_artifact`: what the authorization server keeps (tokens, codes, grants, sessions,
 *   interactions, client-assertion ids). Rows are found by keyed hashes (HMAC-SHA-256 under the
 *   blind-index key) of the token or code value, never by the value itself, and the payload is
 *   sealed with AES-256-GCM, so a dump holds no usable bearer token, refresh token or code
 *   (170.315(d)(12)) and no patient context.
 */
export const migration0011 = {
  version: 11,
  name: 'smart',
  sql: `
CREATE TABLE ward_client (
  client_id                   text PRIMARY KEY,
  name                        text NOT NULL,
  owner                       text NOT NULL,
  purpose                     text NOT NULL,
  scope_ceiling               text NOT NULL,
  redirect_uris               text[] NOT NULL,
  jwks                        text,
  jwks_uri                    text,
  token_endpoint_auth_method  text NOT NULL CHECK (token_endpoint_auth_method IN ('private_key_jwt', 'none')),
  state                       text NOT NULL CHECK (state IN ('pending', 'approved', 'suspended')),
  created_at                  timestamptz NOT NULL,
  state_changed_at            timestamptz NOT NULL,
  last_used_at                timestamptz,
  -- A confidential client authenticates with a key: exactly one of an inline JWKS or a JWKS URL.
  CHECK (token_endpoint_auth_method = 'none' OR ((jwks IS NULL) <> (jwks_uri IS NULL)))
);

CREATE FUNCTION ward_client_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.state = 'suspended' AND NEW.state <> 'suspended' THEN
    RAISE EXCEPTION 'a suspended client stays suspended' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.state = 'approved' AND NEW.state = 'pending' THEN
    RAISE EXCEPTION 'an approved client is not sent back to pending' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.client_id <> OLD.client_id OR NEW.scope_ceiling <> OLD.scope_ceiling OR NEW.token_endpoint_auth_method <> OLD.token_endpoint_auth_method THEN
    RAISE EXCEPTION 'a client''s id, scope ceiling and authentication method do not change in place' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$fn$;
CREATE TRIGGER ward_client_guard BEFORE UPDATE ON ward_client FOR EACH ROW EXECUTE FUNCTION ward_client_guard();

CREATE TABLE ward_oauth_artifact (
  kind            text NOT NULL,
  id_hash         bytea NOT NULL,
  grant_hash      bytea,
  uid_hash        bytea,
  user_code_hash  bytea,
  client_id       text,
  account_id      text,
  key_id          text NOT NULL,
  iv              bytea NOT NULL,
  payload         bytea NOT NULL,
  expires_at      timestamptz,
  consumed_at     timestamptz,
  PRIMARY KEY (id_hash, kind)
);
CREATE INDEX ward_oauth_artifact_grant ON ward_oauth_artifact (grant_hash);
CREATE INDEX ward_oauth_artifact_uid ON ward_oauth_artifact (uid_hash);
CREATE INDEX ward_oauth_artifact_client ON ward_oauth_artifact (client_id);
CREATE INDEX ward_oauth_artifact_expiry ON ward_oauth_artifact (expires_at);
`,
} as const;
