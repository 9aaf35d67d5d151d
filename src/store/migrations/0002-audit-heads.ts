/**
 * Signed tree heads of the audit log's Merkle tree (issue 7, ADR 0004).
 *
 * The sequence number moves from a column default into the insert trigger, after
 * `pg_current_xact_id()`: a transaction then always holds its transaction id before it holds an
 * audit sequence number, which is what lets the sealer tell when every number up to a watermark
 * is final (committed or rolled back for good). The trigger also makes the number impossible to
 * choose: whatever an INSERT says, the row gets the next one.
 */
export const migration0002 = {
  version: 2,
  name: 'audit-heads',
  sql: `
ALTER TABLE ward_audit_entry ALTER COLUMN seq DROP DEFAULT;

CREATE OR REPLACE FUNCTION ward_audit_leaf() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_current_xact_id();
  NEW.seq := nextval('ward_audit_seq');
  NEW.leaf_hash := sha256('\\x00'::bytea || int8send(NEW.seq) || convert_to(NEW.entry, 'UTF8'));
  RETURN NEW;
END
$fn$;

CREATE OR REPLACE FUNCTION ward_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$fn$;

-- One row per signed tree head. tree_size leaves cover the entries with seq <= last_seq except
-- those in gaps (numbers whose transactions rolled back); frontier is the tree's compact range
-- (its edge node hashes), whose root is root_hash, so the next head extends it without rereading.
CREATE TABLE ward_audit_head (
  tree_size     bigint PRIMARY KEY CHECK (tree_size > 0),
  last_seq      bigint NOT NULL UNIQUE,
  gaps          bigint[] NOT NULL DEFAULT '{}',
  root_hash     bytea NOT NULL,
  timestamp_ms  bigint NOT NULL,
  key_id        text NOT NULL,
  signature     bytea NOT NULL,
  frontier      bytea NOT NULL
);

CREATE TRIGGER ward_audit_head_no_change BEFORE UPDATE OR DELETE ON ward_audit_head
  FOR EACH ROW EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_head_no_truncate BEFORE TRUNCATE ON ward_audit_head
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();
`,
} as const;
