/**
 * Conditional interactions now select their target through the search indexes (migration 5), like
 * FHIR search; the identifier-only blind index of migration 1 has no reader left, so it goes: one
 * index, one set of hashes to reason about (docs/security.md).
 */
export const migration0010 = {
  version: 10,
  name: 'drop-identifier-index',
  sql: `
DROP TABLE IF EXISTS ward_identifier_index;
`,
};
