/**
 * The core schema. Resource bodies are AES-256-GCM ciphertext; no column holds an identifying
 * value in plaintext (invariant 3). The audit table is append-only for everyone: triggers refuse
 * UPDATE, DELETE and TRUNCATE even for the owner, and the serving role is granted INSERT/SELECT only.
 * The same SQL runs on PostgreSQL 15 and on PGlite (PostgreSQL 18).
 */
export const migration0001 = {
  version: 1,
  name: 'core',
  sql: `
CREATE TABLE ward_data_key (
  key_id      text PRIMARY KEY,
  purpose     text NOT NULL CHECK (purpose IN ('data', 'blind-index')),
  kek_id      text NOT NULL,
  wrapped     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE ward_version_seq;

-- Every version of every resource, including delete tombstones (164.312(c)(1)).
CREATE TABLE ward_resource_version (
  seq            bigint PRIMARY KEY DEFAULT nextval('ward_version_seq'),
  resource_type  text NOT NULL,
  id             text NOT NULL,
  version_id     integer NOT NULL CHECK (version_id > 0),
  last_updated   timestamptz NOT NULL,
  method         text NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
  deleted        boolean NOT NULL,
  key_id         text REFERENCES ward_data_key (key_id),
  iv             bytea,
  body           bytea,
  patients       text[] NOT NULL DEFAULT '{}',
  UNIQUE (resource_type, id, version_id),
  CHECK ((deleted AND body IS NULL) OR (NOT deleted AND body IS NOT NULL AND iv IS NOT NULL AND key_id IS NOT NULL))
);
CREATE INDEX ward_resource_version_type_seq ON ward_resource_version (resource_type, seq);

-- The current version of each resource; patients is its Patient compartment (random ids only).
CREATE TABLE ward_resource (
  resource_type  text NOT NULL,
  id             text NOT NULL,
  version_id     integer NOT NULL,
  last_updated   timestamptz NOT NULL,
  deleted        boolean NOT NULL,
  current_seq    bigint NOT NULL REFERENCES ward_resource_version (seq),
  patients       text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (resource_type, id)
);

-- Blind index (HMAC) of current identifiers, for conditional create/update/delete.
CREATE TABLE ward_identifier_index (
  resource_type  text NOT NULL,
  hash           bytea NOT NULL,
  id             text NOT NULL,
  PRIMARY KEY (resource_type, hash, id)
);
CREATE INDEX ward_identifier_index_resource ON ward_identifier_index (resource_type, id);

CREATE SEQUENCE ward_audit_seq;

-- The audit log. entry is the canonical JSON of one audit entry (never resource contents);
-- leaf_hash = SHA-256(0x00 || int8(seq) || entry), the RFC 9162 leaf over which the Merkle log is built.
CREATE TABLE ward_audit_entry (
  seq            bigint PRIMARY KEY DEFAULT nextval('ward_audit_seq'),
  recorded_at    timestamptz NOT NULL,
  action         text NOT NULL,
  outcome        text NOT NULL,
  principal_id   text NOT NULL,
  patient_id     text,
  resource_type  text,
  resource_id    text,
  entry          text NOT NULL,
  leaf_hash      bytea NOT NULL
);
CREATE INDEX ward_audit_entry_recorded_at ON ward_audit_entry (recorded_at);
CREATE INDEX ward_audit_entry_patient ON ward_audit_entry (patient_id, recorded_at);
CREATE INDEX ward_audit_entry_principal ON ward_audit_entry (principal_id, recorded_at);

CREATE FUNCTION ward_audit_leaf() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.leaf_hash := sha256('\\x00'::bytea || int8send(NEW.seq) || convert_to(NEW.entry, 'UTF8'));
  RETURN NEW;
END
$fn$;

CREATE FUNCTION ward_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION 'ward_audit_entry is append-only' USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TRIGGER ward_audit_entry_leaf BEFORE INSERT ON ward_audit_entry
  FOR EACH ROW EXECUTE FUNCTION ward_audit_leaf();
CREATE TRIGGER ward_audit_entry_no_change BEFORE UPDATE OR DELETE ON ward_audit_entry
  FOR EACH ROW EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_entry_no_truncate BEFORE TRUNCATE ON ward_audit_entry
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();
`,
} as const;
