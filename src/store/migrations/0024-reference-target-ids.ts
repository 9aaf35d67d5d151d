/**
 * The reference table's target index carries the referring resource's id as its last key and the
 * target's type as an included column, so the lookups that start from a target — `Observation?
 * patient=…`, `_revinclude`, the policy facts' Encounters and CareTeams of a page of patients and
 * the check that the caller takes part in each — are answered from the index alone, with no visit
 * to the table (after VACUUM has marked its pages all-visible, which autovacuum keeps doing). At
 * 100,000 patients this cut a name search's PostgreSQL CPU by a fifth (docs/benchmarks.md). The
 * index is about four times the size of the one it replaces (the id is unique, so PostgreSQL can no
 * longer store one key for many rows); docs/operations.md sizes it.
 */
export const migration0024 = {
  version: 24,
  name: 'reference-target-ids',
  sql: `
CREATE INDEX ward_search_reference_target_id ON ward_search_reference (resource_type, param, target_id, id) INCLUDE (target_type);
DROP INDEX ward_search_reference_target;
`,
} as const;
