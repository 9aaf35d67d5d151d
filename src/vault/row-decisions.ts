import type { FhirResource } from '../fhir/index.js';
import { WardError } from '../fhir/index.js';
import { type Decision, decide, type EffectivePolicy, mask, type PolicyAction, type PolicyFacts, type Principal } from '../policy/index.js';
import type { Queryable, StoredVersion } from '../store/index.js';
import { markBreakGlass, type OperationRecord } from './audit-trail.js';
import { OrganizationPolicies } from './organization-policies.js';
import { discloseFromPart2 } from './part2-disclosure.js';
import { loadPolicyFacts, searchWithPolicyFacts } from './policy-facts.js';
import { openResource } from './sealing.js';
import type { SearchBatch } from './search-operations.js';
import { targetOf } from './vault-steps.js';
import type { VaultDeps, VersionedResource } from './vault-types.js';

/**
 * How the vault decides on stored rows and lets them out: the policy facts of their patients, the
 * organization policies in force, the decision (on the row, then on its opened content), and the
 * opening itself, once per row, with the permit's obligations applied. Every operation of the
 * vault that touches a stored row goes through one of these.
 */
export class RowDecisions {
  readonly #deps: VaultDeps;
  readonly #policies = new OrganizationPolicies();
  /** What the current operation of a principal loaded (null: none apply), so its fact batches need not ask again. */
  readonly #prepared = new WeakMap<Principal, readonly EffectivePolicy[] | null>();
  /** Opened rows, by row object (rows are fresh per query, so this never outlives a request's rows). */
  readonly #opened = new WeakMap<StoredVersion, VersionedResource>();
  /** What the fact loaders open rows with: the same once-per-row opening. */
  readonly #openRow = (row: StoredVersion) => this.open(row).resource;

  constructor(deps: VaultDeps) {
    this.#deps = deps;
  }

  /** Every operation is decided under the policies of the principal's organizations as they are now. */
  async prepare(op: OperationRecord, q: Queryable): Promise<void> {
    const policies = op.principal ? await this.#policies.of(q, op.principal) : undefined;
    if (op.principal) this.#prepared.set(op.principal, policies ?? null);
    op.typeFacts = policies ? { now: this.#deps.now(), policies } : undefined;
  }

  /** The policy facts (relationships, consents, proxy links, organization policies) for the principal and these patients, now. */
  async facts(q: Queryable, principal: Principal, patients: Iterable<string>, known?: readonly StoredVersion[]): Promise<PolicyFacts> {
    const [facts, policies] = await Promise.all([
      // Rows in hand are opened once: a Patient found by a search is not loaded and decrypted again for its unit.
      loadPolicyFacts(q, this.#openRow, principal, patients, this.#deps.now(), known),
      this.policiesOf(q, principal),
    ]);
    return policies ? { ...facts, policies } : facts;
  }

  /** A batch of search results and the policy facts of its patients, in one round trip. */
  async batch(principal: Principal, search: SearchBatch): Promise<{ rows: StoredVersion[]; facts: PolicyFacts }> {
    const db = this.#deps.db;
    const [found, policies] = await Promise.all([
      searchWithPolicyFacts(db, this.#openRow, principal, this.#deps.now(), search),
      this.policiesOf(db, principal),
    ]);
    return { rows: found.rows, facts: policies ? { ...found.facts, policies } : found.facts };
  }

  /** Every operation loads the policies before its first step; a principal it did not prepare (the subject of an explanation) loads them here. */
  policiesOf(q: Queryable, principal: Principal): Promise<readonly EffectivePolicy[] | undefined> {
    const prepared = this.#prepared.get(principal);
    return prepared !== undefined ? Promise.resolve(prepared ?? undefined) : this.#policies.of(q, principal);
  }

  /**
   * Decides on a stored row. The labels (`meta.security`) and categories are sealed in its body,
   * so a permit on what the row shows in the clear is decided again on the opened content, with
   * the same facts; nothing has left the vault in between. A permit that still depends on content
   * is a refusal.
   */
  permits(principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts): Decision {
    const decision = decide(principal, action, targetOf(row), facts);
    if (decision.effect !== 'permit') return decision;
    const final = decide(principal, action, targetOf(row, row.deleted ? 'tombstone' : this.open(row).resource), facts);
    return final.effect === 'permit' && !final.obligations.some((o) => o.kind === 'decide-on-content')
      ? final
      : { effect: 'deny', reasons: [...final.reasons, 'content does not meet the scope restriction'] };
  }

  /**
   * Opens a row for the caller: its permit's mask obligations (minimum necessary, 164.502(b)) are
   * applied before anything leaves the vault. Anything but a permit here is a programming error.
   */
  reveal(op: OperationRecord, row: StoredVersion, decision: Decision | undefined, opened?: VersionedResource): VersionedResource {
    if (decision?.effect !== 'permit') throw new WardError('WARD_NOT_FOUND');
    // What break-glass let out is named in the operation's audit entry (the privacy officers review it).
    markBreakGlass(op, decision);
    const full = opened ?? this.open(row);
    let resource = full.resource;
    for (const o of decision.obligations) if (o.kind === 'mask') resource = mask(resource, o);
    // Part 2 records leave with the redisclosure notice, and their entry records on what ground (ADR 0016).
    resource = discloseFromPart2(op, row, decision, resource) as typeof resource;
    return resource === full.resource ? full : { ...full, resource };
  }

  /** Opens a row once per row object: deciding on its labels and returning it share one decryption. */
  open(row: StoredVersion): VersionedResource {
    const cached = this.#opened.get(row);
    if (cached) return cached;
    const resource = openResource(this.#deps.keyring, row) as FhirResource & { id: string };
    const opened = { resource, versionId: row.versionId, lastUpdated: row.lastUpdated };
    this.#opened.set(row, opened);
    return opened;
  }
}
