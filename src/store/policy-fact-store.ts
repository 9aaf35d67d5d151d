import type { Queryable } from './database.js';
import { type StoredVersion, toStoredVersion, VERSION_COLUMNS } from './resource-store.js';

/** What the policy facts of one batch of patients are loaded from. */
export interface FactQuery {
  /** The patients of the batch (ids of Patients). */
  readonly patients: readonly string[];
  /** Relationships are wanted (a clinical principal): its PractitionerRoles, CareTeams and Encounters. */
  readonly relationships: boolean;
  /** The principal as a participant (`Practitioner/123` as type and id); null when it cannot be one. */
  readonly actor: { readonly type: string; readonly id: string } | null;
  /** The id of the Practitioner whose PractitionerRoles act for the principal; null for none. */
  readonly practitioner: string | null;
  /** The Patients to load themselves (of the batch's, when the principal belongs to organization units). */
  readonly units: readonly string[];
  /** The principal's break-glass grants for the patients in force at this time are wanted (with `relationships`). */
  readonly grantsOf: { readonly principal: string; readonly now: Date };
}

/** A break-glass grant in force: what a decision reads of it (its sealed justification stays in the store). */
export interface GrantInForce {
  readonly id: string;
  readonly principal: string;
  readonly patient: string;
  readonly reasonCode: string;
  readonly startsAt: Date;
  readonly endsAt: Date;
}

/** The current rows the policy facts are made of, by kind, each in id order; still sealed. */
export interface FactRows {
  /** Every PractitionerRole of the practitioner, active or not (the vault keeps the active ones). */
  readonly roles: StoredVersion[];
  /** CareTeams of the patients with the principal or any of its PractitionerRoles as a participant. */
  readonly careTeams: StoredVersion[];
  /** Encounters of the patients likewise. */
  readonly encounters: StoredVersion[];
  /** The Patients of `units`. */
  readonly units: StoredVersion[];
  /** Every Consent of the patients. */
  readonly consents: StoredVersion[];
  /** The principal's grants for the patients in force (when `relationships`). */
  readonly grants: GrantInForce[];
}

const KINDS = ['roles', 'careTeams', 'encounters', 'units', 'consents'] as const;
const GRANT_KIND = 5;

const CURRENT = 'ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq';
const LINKED = `linked l JOIN ward_resource r ON r.resource_type = l.resource_type AND r.id = l.id AND NOT r.deleted
    JOIN ward_resource_version v ON v.seq = r.current_seq`;
const withActor = `EXISTS (SELECT 1 FROM ward_search_reference x WHERE x.resource_type = r.resource_type AND x.id = r.id
    AND x.param = 'participant' AND (x.target_type, x.target_id) IN (SELECT a.type, a.id FROM actor a))`;

/**
 * One fixed statement for every fact row of a batch and the principal's break-glass grants in
 * force (as JSON: a grant is no resource), prepared once per connection and planned generically:
 * the same current, non-deleted rows that one search per kind found before, in one round trip. A
 * CareTeam or Encounter is selected when any PractitionerRole of the practitioner takes part — a
 * superset of the active ones, which the vault checks on the opened roles, as it checks each
 * membership on the opened resource. The CareTeams, Encounters and Consents are found from the
 * patients' side (`linked`, materialized so that a generic plan cannot start from the principal's
 * side instead: a patient has a few, a busy clinician takes part in thousands).
 */
const FACT_SQL = `WITH role AS (
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
  )
  SELECT 0 AS kind, ${VERSION_COLUMNS}, NULL::text AS grant_in_force FROM role JOIN ward_resource_version v ON v.seq = role.current_seq
  UNION ALL
  SELECT 1, ${VERSION_COLUMNS}, NULL FROM ${LINKED} WHERE l.resource_type = 'CareTeam' AND ${withActor}
  UNION ALL
  SELECT 2, ${VERSION_COLUMNS}, NULL FROM ${LINKED} WHERE l.resource_type = 'Encounter' AND ${withActor}
  UNION ALL
  SELECT 3, ${VERSION_COLUMNS}, NULL FROM ${CURRENT}
   WHERE r.resource_type = 'Patient' AND NOT r.deleted AND r.id = ANY($6::text[])
  UNION ALL
  SELECT 4, ${VERSION_COLUMNS}, NULL FROM ${LINKED} WHERE l.resource_type = 'Consent'
  UNION ALL
  SELECT 5, NULL, NULL, g.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         json_build_array(g.principal, g.patient, g.reason_code,
                          floor(extract(epoch FROM g.starts_at) * 1000), floor(extract(epoch FROM g.ends_at) * 1000))::text
    FROM ward_break_glass_grant g
   WHERE $2::boolean AND g.principal = $7::text AND g.patient = ANY($1::text[]) AND g.starts_at <= $8::timestamptz AND g.ends_at > $8::timestamptz
  ORDER BY kind, id`;

/**
 * The rows the policy facts of a batch of patients are made of, in one statement. Policy is not
 * the store's: the vault opens them and keeps what holds now.
 */
export async function policyFactRows(q: Queryable, f: FactQuery): Promise<FactRows> {
  const out: FactRows = { roles: [], careTeams: [], encounters: [], units: [], consents: [], grants: [] };
  if (f.patients.length === 0) return out;
  const { rows } = await q.query(
    FACT_SQL,
    [
      f.patients,
      f.relationships,
      f.actor?.type ?? null,
      f.actor?.id ?? null,
      f.practitioner,
      f.units,
      f.grantsOf.principal,
      f.grantsOf.now,
    ],
    'ward_policy_fact_rows',
  );
  for (const row of rows) {
    const kind = Number(row.kind);
    if (kind === GRANT_KIND) out.grants.push(grantOf(row.id as string, row.grant_in_force as string));
    else out[KINDS[kind] as (typeof KINDS)[number]].push(toStoredVersion(row));
  }
  return out;
}

function grantOf(id: string, json: string): GrantInForce {
  const [principal, patient, reasonCode, startsAt, endsAt] = JSON.parse(json) as [string, string, string, number, number];
  return { id, principal, patient, reasonCode, startsAt: new Date(startsAt), endsAt: new Date(endsAt) };
}
