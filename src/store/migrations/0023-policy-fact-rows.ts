/**
 * The rows a batch's policy facts are made of, as one function (the vault's facts statement, see
 * policy-fact-store.ts). It exists for one setting: its query always runs on a generic plan. As a
 * prepared statement PostgreSQL compared the generic plan's estimate (which takes every patient
 * array for ten elements) with a custom plan's and planned it afresh on every call — 1.3 ms of
 * CPU, more than the rest of a search — or, in a variant it did plan once, started from every
 * Encounter the clinician takes part in. Here the CareTeams, Encounters and Consents are found
 * from the patients' side (a materialized CTE) and the plan is made once per connection; the
 * caller's participation is checked on the index rows before any resource row is read, since
 * most of the patients' Encounters are other clinicians' (at 100,000 patients a name search's 111
 * Encounters cost 4 ms read first and checked after).
 * SECURITY INVOKER: it reads what the caller's role may read, nothing more.
 */
export const migration0023 = {
  version: 23,
  name: 'policy-fact-rows',
  sql: `
CREATE FUNCTION ward_policy_fact_rows(
  p_patients text[], p_relationships boolean, p_actor_type text, p_actor_id text, p_practitioner text,
  p_units text[], p_principal text, p_at timestamptz
) RETURNS TABLE (
  kind integer, seq bigint, resource_type text, id text, version_id integer, last_updated timestamptz, method text,
  deleted boolean, key_id text, iv bytea, body bytea, patients text[], grant_in_force text
) LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $fn$
#variable_conflict use_column
BEGIN
  RETURN QUERY WITH role AS (
      SELECT r.id, r.current_seq FROM ward_resource r
       WHERE $2::boolean AND r.resource_type = 'PractitionerRole' AND NOT r.deleted
         AND EXISTS (SELECT 1 FROM ward_search_reference x WHERE x.resource_type = 'PractitionerRole' AND x.id = r.id
                       AND x.param = 'practitioner' AND x.target_type = 'Practitioner' AND x.target_id = $5::text)
    ), actor(type, id) AS (
      SELECT $3::text, $4::text UNION ALL SELECT 'PractitionerRole', role.id FROM role
    ), linked AS MATERIALIZED (
      SELECT DISTINCT x.resource_type, x.id FROM ward_search_reference x
       WHERE x.resource_type IN ('CareTeam', 'Encounter', 'Consent') AND x.param = 'patient' AND x.target_type = 'Patient'
         AND x.target_id = ANY($1::text[]) AND ($2::boolean OR x.resource_type = 'Consent')
    ), taking_part AS MATERIALIZED (
      SELECT l.resource_type, l.id FROM linked l
       WHERE l.resource_type IN ('CareTeam', 'Encounter') AND EXISTS (SELECT 1 FROM ward_search_reference x
         WHERE x.resource_type = l.resource_type AND x.id = l.id AND x.param = 'participant'
           AND (x.target_type, x.target_id) IN (SELECT a.type, a.id FROM actor a))
    )
    SELECT 0 AS kind, v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method, v.deleted, v.key_id, v.iv, v.body, v.patients, NULL::text AS grant_in_force FROM role JOIN ward_resource_version v ON v.seq = role.current_seq
    UNION ALL
    SELECT 1, v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method, v.deleted, v.key_id, v.iv, v.body, v.patients, NULL FROM taking_part t JOIN ward_resource r ON r.resource_type = t.resource_type AND r.id = t.id AND NOT r.deleted
      JOIN ward_resource_version v ON v.seq = r.current_seq WHERE t.resource_type = 'CareTeam'
    UNION ALL
    SELECT 2, v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method, v.deleted, v.key_id, v.iv, v.body, v.patients, NULL FROM taking_part t JOIN ward_resource r ON r.resource_type = t.resource_type AND r.id = t.id AND NOT r.deleted
      JOIN ward_resource_version v ON v.seq = r.current_seq WHERE t.resource_type = 'Encounter'
    UNION ALL
    SELECT 3, v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method, v.deleted, v.key_id, v.iv, v.body, v.patients, NULL FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq
     WHERE r.resource_type = 'Patient' AND NOT r.deleted AND r.id = ANY($6::text[])
    UNION ALL
    SELECT 4, v.seq, v.resource_type, v.id, v.version_id, v.last_updated, v.method, v.deleted, v.key_id, v.iv, v.body, v.patients, NULL FROM linked l JOIN ward_resource r ON r.resource_type = l.resource_type AND r.id = l.id AND NOT r.deleted
      JOIN ward_resource_version v ON v.seq = r.current_seq WHERE l.resource_type = 'Consent'
    UNION ALL
    SELECT 5, NULL, NULL, g.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           json_build_array(g.principal, g.patient, g.reason_code,
                            floor(extract(epoch FROM g.starts_at) * 1000), floor(extract(epoch FROM g.ends_at) * 1000))::text
      FROM ward_break_glass_grant g
     WHERE $2::boolean AND g.principal = $7::text AND g.patient = ANY($1::text[]) AND g.starts_at <= $8::timestamptz AND g.ends_at > $8::timestamptz
    ORDER BY kind, id;
END
$fn$;
`,
};
