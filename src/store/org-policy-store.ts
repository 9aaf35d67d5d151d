import { asDate, type Queryable } from './database.js';

/** SQL for organization policy overrides (ward_org_policy, migration 17): append-only versions. */

export interface OrgPolicyRow {
  readonly organization: string;
  readonly version: number;
  /** The override document as JSON text, exactly as validated and stored. */
  readonly document: string;
  readonly changedBy: string;
  readonly changedAt: Date;
}

const COLUMNS = 'organization, version, document, changed_by, changed_at';

function rowOf(r: Record<string, unknown>): OrgPolicyRow {
  return {
    organization: String(r.organization),
    version: Number(r.version),
    document: String(r.document),
    changedBy: String(r.changed_by),
    changedAt: asDate(r.changed_at),
  };
}

/** The newest version of each of these organizations' overrides (organizations without one are absent). */
export async function currentOrgPolicies(q: Queryable, organizations: readonly string[]): Promise<OrgPolicyRow[]> {
  if (organizations.length === 0) return [];
  const { rows } = await q.query(
    `SELECT DISTINCT ON (organization) ${COLUMNS} FROM ward_org_policy
      WHERE organization = ANY($1::text[]) ORDER BY organization, version DESC`,
    [organizations],
    'ward-org-policy-current',
  );
  return rows.map(rowOf);
}

/** Every version of one organization's override, newest first. */
export async function orgPolicyHistory(q: Queryable, organization: string, limit: number): Promise<OrgPolicyRow[]> {
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM ward_org_policy WHERE organization = $1 ORDER BY version DESC LIMIT $2`, [
    organization,
    limit,
  ]);
  return rows.map(rowOf);
}

/**
 * Stores the next version. Two writers of the same version collide on the primary key (23505),
 * which the caller reports as a version conflict: a change never silently replaces another.
 */
export async function insertOrgPolicy(q: Queryable, row: OrgPolicyRow): Promise<void> {
  await q.query(`INSERT INTO ward_org_policy (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, [
    row.organization,
    row.version,
    row.document,
    row.changedBy,
    row.changedAt,
  ]);
}
