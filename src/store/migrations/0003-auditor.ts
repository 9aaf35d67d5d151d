/**
 * What the auditor's queries need (issue 7, auditor API). A search or history entry names the
 * extra patients it returned (`entry.detail.patients`) and the resources (`entry.returned`);
 * migration 3 copies both into array columns beside the other query keys, so per-patient queries
 * (AuditEvent `patient=`, the accounting of disclosures) and per-resource queries (`entity=`)
 * use an index instead of scanning the log. The GIN indexes are partial: most entries (a read,
 * a write) have neither list, and skipping them keeps the append cheap — an expression index
 * over `entry::jsonb` would parse every entry's JSON on insert (measured: about a third slower).
 *
 * Entries written before this migration get their lists copied once here, with the append-only
 * trigger held off inside this transaction: only the new query-key columns change, never `entry`
 * or its leaf hash, so the Merkle log is untouched and `ward audit verify` still passes.
 */
export const migration0003 = {
  version: 3,
  name: 'auditor-indexes',
  sql: `
ALTER TABLE ward_audit_entry ADD COLUMN patients text[], ADD COLUMN returned text[];

ALTER TABLE ward_audit_entry DISABLE TRIGGER ward_audit_entry_no_change;
UPDATE ward_audit_entry
   SET patients = string_to_array((entry::jsonb) -> 'detail' ->> 'patients', ' '),
       returned = CASE WHEN (entry::jsonb) ? 'returned' THEN ARRAY(SELECT jsonb_array_elements_text((entry::jsonb) -> 'returned')) END
 WHERE (entry::jsonb) -> 'detail' ? 'patients' OR (entry::jsonb) ? 'returned';
ALTER TABLE ward_audit_entry ENABLE TRIGGER ward_audit_entry_no_change;

CREATE INDEX ward_audit_entry_patients ON ward_audit_entry USING gin (patients) WHERE patients IS NOT NULL;
CREATE INDEX ward_audit_entry_returned ON ward_audit_entry USING gin (returned) WHERE returned IS NOT NULL;
CREATE INDEX ward_audit_entry_resource ON ward_audit_entry (resource_type, resource_id);
-- The audit status shows the newest verification run without scanning the log.
CREATE INDEX ward_audit_entry_verify ON ward_audit_entry (seq) WHERE action = 'audit-verify';
`,
} as const;
