/**
 * Monthly partitions of the audit log, and what archiving them leaves behind (issue 7 item 4,
 * ADR 0008).
 *
 * `ward_audit_entry` becomes a table partitioned by `recorded_at` (UTC months), so that a month
 * older than the retention can leave the database whole — exported with its proofs, then dropped
 * by the owner — instead of being deleted row by row, which the append-only triggers refuse.
 * Everything earlier migrations guaranteed is rebuilt on the partitioned table, in the same
 * column order:
 * - the insert trigger (migration 2: xid before the sequence number, then the leaf hash) and the
 *   UPDATE/DELETE trigger are row triggers on the parent, which PostgreSQL clones onto every
 *   partition, present and future; TRUNCATE triggers are per table, so each partition gets its
 *   own from `ward_audit_month_partition`, the one function that creates partitions;
 * - the query indexes of migrations 1 and 3, partial GIN indexes included, as partitioned indexes;
 * - the primary key must hold the partition key, so it is (seq, recorded_at): seq stays unique
 *   because only the insert trigger assigns it, from the sequence.
 * The serving role keeps INSERT and SELECT on the parent only (app-role.ts): rows reach a
 * partition through the parent, and it has no grant at all on a partition itself.
 *
 * Partitions are created by the owner, never by the serving role: for every month that holds
 * entries here, and by `migrate` (each start, `ward migrate`, `ward audit partitions`) for the
 * current month and the twelve after it. A DEFAULT partition takes any row no month partition
 * holds (a clock far off, a server that ran a year without a restart), so an insert never fails
 * for want of a partition; `GET /admin/audit/status` shows how many rows it holds.
 *
 * `ward_audit_archive` records each archived partition; `ward_audit_archived_leaf` keeps the leaf
 * hash of every archived entry, so the tree and every signed head still verify once the entries
 * are gone. Both are append-only like the log.
 */
export const migration0006 = {
  version: 6,
  name: 'audit-partitions',
  sql: `
ALTER TABLE ward_audit_entry RENAME TO ward_audit_entry_unpartitioned;
ALTER TABLE ward_audit_entry_unpartitioned RENAME CONSTRAINT ward_audit_entry_pkey TO ward_audit_entry_unpartitioned_pkey;
DROP INDEX ward_audit_entry_recorded_at, ward_audit_entry_patient, ward_audit_entry_principal, ward_audit_entry_patients,
  ward_audit_entry_returned, ward_audit_entry_resource, ward_audit_entry_verify;

CREATE TABLE ward_audit_entry (
  seq            bigint NOT NULL,
  recorded_at    timestamptz NOT NULL,
  action         text NOT NULL,
  outcome        text NOT NULL,
  principal_id   text NOT NULL,
  patient_id     text,
  resource_type  text,
  resource_id    text,
  entry          text NOT NULL,
  leaf_hash      bytea NOT NULL,
  patients       text[],
  returned       text[],
  PRIMARY KEY (seq, recorded_at)
) PARTITION BY RANGE (recorded_at);

-- A refusal on a partition names the log, as one on the table itself does.
CREATE OR REPLACE FUNCTION ward_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_TABLE_NAME LIKE 'ward\\_audit\\_entry\\_%' THEN
    RAISE EXCEPTION 'ward_audit_entry is append-only (partition %)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TABLE ward_audit_entry_default PARTITION OF ward_audit_entry DEFAULT;
CREATE TRIGGER ward_audit_partition_no_truncate BEFORE TRUNCATE ON ward_audit_entry_default
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();

-- The partition of the UTC month holding month_start, with its own TRUNCATE trigger. It returns
-- 'exists', 'created', or 'in-default' when the default partition already holds rows of that month
-- (PostgreSQL would refuse the new partition; those rows stay where they are).
CREATE FUNCTION ward_audit_month_partition(month_start timestamptz) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  lo timestamptz := date_trunc('month', month_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', month_start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  name text := 'ward_audit_entry_' || to_char(month_start AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN 'exists';
  END IF;
  IF EXISTS (SELECT 1 FROM ward_audit_entry_default WHERE recorded_at >= lo AND recorded_at < hi) THEN
    RETURN 'in-default';
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF ward_audit_entry FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
  EXECUTE format('CREATE TRIGGER ward_audit_partition_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change()', name);
  RETURN 'created';
END
$fn$;

-- The partitions of the months from the one holding from_month through months after it.
CREATE FUNCTION ward_audit_ensure_partitions(from_month timestamptz, months integer) RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  created integer := 0;
  first timestamptz := date_trunc('month', from_month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
  FOR i IN 0..months LOOP
    IF ward_audit_month_partition(((first AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC') = 'created' THEN
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END
$fn$;
REVOKE ALL ON FUNCTION ward_audit_month_partition(timestamptz), ward_audit_ensure_partitions(timestamptz, integer) FROM PUBLIC;

DO $fn$
DECLARE m timestamptz;
BEGIN
  FOR m IN SELECT DISTINCT date_trunc('month', recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM ward_audit_entry_unpartitioned LOOP
    PERFORM ward_audit_month_partition(m);
  END LOOP;
END
$fn$;

-- Copied before the insert trigger exists, so every row keeps its number and leaf hash.
INSERT INTO ward_audit_entry SELECT * FROM ward_audit_entry_unpartitioned;
DROP TABLE ward_audit_entry_unpartitioned;

CREATE TRIGGER ward_audit_entry_leaf BEFORE INSERT ON ward_audit_entry
  FOR EACH ROW EXECUTE FUNCTION ward_audit_leaf();
CREATE TRIGGER ward_audit_entry_no_change BEFORE UPDATE OR DELETE ON ward_audit_entry
  FOR EACH ROW EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_entry_no_truncate BEFORE TRUNCATE ON ward_audit_entry
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();

CREATE INDEX ward_audit_entry_recorded_at ON ward_audit_entry (recorded_at);
CREATE INDEX ward_audit_entry_patient ON ward_audit_entry (patient_id, recorded_at);
CREATE INDEX ward_audit_entry_principal ON ward_audit_entry (principal_id, recorded_at);
CREATE INDEX ward_audit_entry_patients ON ward_audit_entry USING gin (patients) WHERE patients IS NOT NULL;
CREATE INDEX ward_audit_entry_returned ON ward_audit_entry USING gin (returned) WHERE returned IS NOT NULL;
CREATE INDEX ward_audit_entry_resource ON ward_audit_entry (resource_type, resource_id);
CREATE INDEX ward_audit_entry_verify ON ward_audit_entry (seq) WHERE action = 'audit-verify';
-- The review sign-offs (164.308(a)(1)(ii)(D)) and archive records, read by the audit status.
CREATE INDEX ward_audit_entry_review ON ward_audit_entry (seq) WHERE action = 'audit-review';

-- One row per archived partition: where its entries went and the head their proofs are against.
CREATE TABLE ward_audit_archive (
  partition       text PRIMARY KEY,
  range_from      timestamptz NOT NULL,
  range_to        timestamptz NOT NULL,
  entries         bigint NOT NULL,
  first_seq       bigint,
  last_seq        bigint,
  head_tree_size  bigint NOT NULL,
  file            text NOT NULL,
  sha256          text NOT NULL,
  archived_at     timestamptz NOT NULL
);

-- The leaf hash of every archived entry: the tree is rebuilt from these where the entry is gone.
CREATE TABLE ward_audit_archived_leaf (
  seq        bigint PRIMARY KEY,
  leaf_hash  bytea NOT NULL,
  partition  text NOT NULL REFERENCES ward_audit_archive (partition)
);

CREATE TRIGGER ward_audit_archive_no_change BEFORE UPDATE OR DELETE ON ward_audit_archive
  FOR EACH ROW EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_archive_no_truncate BEFORE TRUNCATE ON ward_audit_archive
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_archived_leaf_no_change BEFORE UPDATE OR DELETE ON ward_audit_archived_leaf
  FOR EACH ROW EXECUTE FUNCTION ward_audit_refuse_change();
CREATE TRIGGER ward_audit_archived_leaf_no_truncate BEFORE TRUNCATE ON ward_audit_archived_leaf
  FOR EACH STATEMENT EXECUTE FUNCTION ward_audit_refuse_change();
`,
} as const;
