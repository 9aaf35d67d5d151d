import type { Queryable } from './database.js';
import { type StoredVersion, toStoredVersion, versionColumnsOf } from './resource-store.js';

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

/**
 * Every fact row of a batch and the principal's break-glass grants in force (as JSON: a grant is
 * no resource), in one round trip: the same current, non-deleted rows that one search per kind
 * found before. A CareTeam or Encounter is selected when any PractitionerRole of the practitioner
 * takes part — a superset of the active ones, which the vault checks on the opened roles, as it
 * checks each membership on the opened resource. The query is the function of migration 23, so
 * that it always runs on a generic plan made once per connection.
 */
const FACT_SQL = 'SELECT * FROM ward_policy_fact_rows($1, $2, $3, $4, $5, $6, $7, $8)';

/**
 * The rows the policy facts of a batch of patients are made of, in one statement. Policy is not
 * the store's: the vault opens them and keeps what holds now.
 */
export async function policyFactRows(q: Queryable, f: FactQuery): Promise<FactRows> {
  if (f.patients.length === 0) return noFactRows();
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
  return factRowsOf(rows);
}

/** A search's batch with what its policy facts are made of: which Patients to load, and the rest of FactQuery. */
export type BatchFactQuery = Omit<FactQuery, 'patients' | 'units'> & {
  /** The batch's Patients are wanted for their units; those the page holds are not loaded again. */
  readonly units: boolean;
};

/**
 * A search's page (as searchResources finds it) and the fact rows of its patients, in one
 * statement: the page is numbered in its order, its patients (a Patient is in its own
 * compartment) gathered, and the facts function called on them — unless the page is empty, as
 * policyFactRows does. The page's own Patients are not loaded again for units: the caller has them.
 */
export function withFactRows(
  pageSql: string,
  p: (value: unknown) => string,
  f: BatchFactQuery,
): { sql: string; read: (rows: Record<string, unknown>[]) => { rows: StoredVersion[]; facts: FactRows } } {
  const units = `CASE WHEN ${p(f.units)}::boolean THEN ARRAY(SELECT b.id FROM unnest(batch.ids) AS b(id)
      WHERE NOT EXISTS (SELECT 1 FROM page WHERE page.resource_type = 'Patient' AND page.id = b.id)) ELSE '{}'::text[] END`;
  const sql = `WITH page AS MATERIALIZED (SELECT m.*, row_number() OVER () AS n FROM (${pageSql}) m),
  batch(ids) AS (
    SELECT coalesce(array_agg(DISTINCT b.id), '{}'::text[]) FROM page,
      unnest(CASE WHEN page.resource_type = 'Patient' THEN page.patients || page.id ELSE page.patients END) AS b(id)
  )
  SELECT -1 AS kind, page.n, ${PAGE_COLUMNS}, NULL::text AS grant_in_force FROM page
  UNION ALL
  SELECT f.kind, 0, ${FACT_COLUMNS}, f.grant_in_force
    FROM batch, ward_policy_fact_rows(batch.ids, ${p(f.relationships)}::boolean, ${p(f.actor?.type ?? null)}::text,
           ${p(f.actor?.id ?? null)}::text, ${p(f.practitioner)}::text, ${units}, ${p(f.grantsOf.principal)}::text,
           ${p(f.grantsOf.now)}::timestamptz) AS f
   WHERE cardinality(batch.ids) > 0
  ORDER BY kind, n, id`;
  return {
    sql,
    read: (rows) => {
      const page = rows.filter((row) => Number(row.kind) < 0);
      return { rows: page.map(toStoredVersion), facts: factRowsOf(rows.slice(page.length)) };
    },
  };
}

const PAGE_COLUMNS = versionColumnsOf('page');
const FACT_COLUMNS = versionColumnsOf('f');

const noFactRows = (): FactRows => ({ roles: [], careTeams: [], encounters: [], units: [], consents: [], grants: [] });

function factRowsOf(rows: readonly Record<string, unknown>[]): FactRows {
  const out = noFactRows();
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
