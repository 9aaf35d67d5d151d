/**
 * Reverse reference lookups that do not name the referring type (`_revinclude=*`, and later
 * `Patient/{id}/$everything`): by target alone, instead of a scan of every reference row.
 */
export const migration0009 = {
  version: 9,
  name: 'search-references',
  sql: `
CREATE INDEX ward_search_reference_target_any ON ward_search_reference (target_id, target_type);
`,
} as const;
