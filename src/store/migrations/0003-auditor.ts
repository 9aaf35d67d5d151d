/**
 * Indexes for the auditor's queries (issue 7, auditor API). The audit table itself is unchanged.
 * A search or history entry names the extra patients it returned in `entry.detail.patients` and
 * the resources in `entry.returned`; without these expression indexes every per-patient query
 * (AuditEvent `patient=`, the accounting of disclosures) and every per-resource query (`entity=`)
 * would scan the whole log. The expressions must stay identical to those in audit-query.ts.
 */
export const migration0003 = {
  version: 3,
  name: 'auditor-indexes',
  sql: `
CREATE INDEX ward_audit_entry_patients ON ward_audit_entry USING gin ((string_to_array((entry::jsonb) -> 'detail' ->> 'patients', ' ')));
CREATE INDEX ward_audit_entry_returned ON ward_audit_entry USING gin (((entry::jsonb) -> 'returned'));
CREATE INDEX ward_audit_entry_resource ON ward_audit_entry (resource_type, resource_id);
`,
} as const;
