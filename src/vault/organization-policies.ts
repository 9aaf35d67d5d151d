import { type EffectivePolicy, effectivePolicy, type Principal } from '../policy/index.js';
import { currentOrgPolicies, type OrgPolicyRow, type Queryable } from '../store/index.js';

/** Versions are immutable (the table is append-only), so a parsed version can be kept; this bounds how many. */
const CACHE_LIMIT = 1000;

/**
 * The policies a principal's organizations impose (ADR 0015): read from the store on every
 * operation, so a change takes effect on the next request on every instance; parsing and checking a
 * version is done once, because a stored version never changes. Only workforce users belong to
 * organizations (the token's `ward_organizations` claim); anyone else is decided by the default.
 */
export class OrganizationPolicies {
  readonly #parsed = new Map<string, EffectivePolicy>();

  async of(q: Queryable, principal: Principal): Promise<readonly EffectivePolicy[] | undefined> {
    if (principal.kind !== 'user' || !principal.organizations?.length) return undefined;
    const rows = await currentOrgPolicies(q, principal.organizations);
    return rows.length === 0 ? undefined : rows.map((row) => this.#policyOf(row));
  }

  #policyOf(row: OrgPolicyRow): EffectivePolicy {
    const key = `${row.organization}@${row.version}`;
    const known = this.#parsed.get(key);
    if (known) return known;
    let document: unknown;
    try {
      document = JSON.parse(row.document);
    } catch {
      // Unreadable: effectivePolicy then fails closed (nothing granted).
      document = undefined;
    }
    const policy = effectivePolicy({ organization: row.organization, version: row.version, document });
    if (this.#parsed.size >= CACHE_LIMIT) this.#parsed.clear();
    this.#parsed.set(key, policy);
    return policy;
  }
}
