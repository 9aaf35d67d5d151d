/**
 * Reverse reference lookups that do not name the referring type (`_revinclude=*`, and later
 * `Patient/{id}/$everything`): by target alone, instead of a scan of every reference row. And
 * compartment search (`Patient/{id}/Observation`): by the resource's patients (GIN, for
 * `patients @> ARRAY[id]`), instead of a scan of every resource of the type.
 */
export const migration0009 = {
  version: 9,
  name: 'search-references',
  sql: `
CREATE INDEX ward_search_reference_target_any ON ward_search_reference (target_id, target_type);
CREATE INDEX ward_resource_patients ON ward_resource USING gin (patients);
`,
} as const;
