import { createHash } from 'node:crypto';
import type { RequestContext } from '../audit/index.js';
import { WardError } from '../fhir/index.js';
import { configurationDecision, type OrganizationOverride, POLICY_VERSION, type Principal, validateOverride } from '../policy/index.js';
import { insertOrgPolicy, type OrgPolicyRow, orgPolicyHistory } from '../store/index.js';
import type { OperationDeps } from './audited-runner.js';

/** Versions listed by one history request; an organization changing its policy this often is itself a finding. */
const HISTORY_LIMIT = 1000;

export interface OrganizationPolicyView {
  readonly organization: string;
  /** 0: no override, the default policy applies. */
  readonly version: number;
  /** The version string decisions under it carry (`ward-policy-4+Organization/<id>@v<n>`). */
  readonly policyVersion: string;
  readonly document: OrganizationOverride | null;
  readonly changedBy?: string;
  readonly changedAt?: string;
}

export type OrganizationPolicyDeps = OperationDeps;

/**
 * Organization policy overrides through the admin API (issue 6 §1, ADR 0015). A change is a new
 * version, never an edit: it names the version it replaces (If-Match), passes the hard limits, is
 * stored with who made it and when, and commits in one transaction with its audit entry (a
 * configuration change). It takes effect on the next request: every operation reads the current
 * versions. Only a system administrator changes it; privacy officers may read it.
 */
export class OrganizationPolicyOperations {
  readonly #deps: OrganizationPolicyDeps;

  constructor(deps: OrganizationPolicyDeps) {
    this.#deps = deps;
  }

  /** The current version (version 0 and no document when the organization has none). */
  async current(principal: Principal, ctx: RequestContext, organization: string): Promise<OrganizationPolicyView> {
    const op = this.#deps.op(principal, ctx, 'policy-override-read');
    op.detail = { organization, view: 'current' };
    return this.#deps.run.read(op, async () => {
      op.decision = configurationDecision(principal, 'read');
      if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
      const [row] = await orgPolicyHistory(this.#deps.db, organization, 1);
      op.detail = { ...op.detail, version: String(row?.version ?? 0) };
      return row ? viewOf(row) : { organization, version: 0, policyVersion: POLICY_VERSION, document: null };
    });
  }

  /** Every version, newest first: what applied when, and who changed it. */
  async history(principal: Principal, ctx: RequestContext, organization: string): Promise<OrganizationPolicyView[]> {
    const op = this.#deps.op(principal, ctx, 'policy-override-read');
    op.detail = { organization, view: 'history' };
    return this.#deps.run.read(op, async () => {
      op.decision = configurationDecision(principal, 'read');
      if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
      return (await orgPolicyHistory(this.#deps.db, organization, HISTORY_LIMIT)).map(viewOf);
    });
  }

  /**
   * Stores the next version. `ifMatch` is the version being replaced (0 for the first): a stale
   * one is 412, and a missing one 428, so that two administrators never overwrite each other.
   */
  async change(
    principal: Principal,
    ctx: RequestContext,
    organization: string,
    document: unknown,
    ifMatch: number | undefined,
  ): Promise<OrganizationPolicyView> {
    const op = this.#deps.op(principal, ctx, 'policy-override');
    op.detail = { organization };
    return this.#deps.run.write(
      op,
      { transactional: true, retryOnConflict: false },
      async (q) => {
        op.decision = configurationDecision(principal, 'change');
        if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
        if (ifMatch === undefined) throw new WardError('WARD_PRECONDITION_REQUIRED');
        const checked = validateOverride(document);
        if (!checked.ok) {
          op.detail = { ...op.detail, refused: [...new Set(checked.issues.map((i) => i.rule))].join(' ') };
          throw new WardError('WARD_INVALID_REQUEST', {
            details: checked.issues.map((i) => ({ expression: i.path || 'override', diagnostics: `${i.rule}: ${i.text}` })),
          });
        }
        const [latest] = await orgPolicyHistory(q, organization, 1);
        const previous = latest?.version ?? 0;
        if (ifMatch !== previous) throw new WardError('WARD_VERSION_CONFLICT');
        const text = JSON.stringify(checked.override);
        const row: OrgPolicyRow = {
          organization,
          version: previous + 1,
          document: text,
          changedBy: principal.id,
          changedAt: this.#deps.now(),
        };
        await insertOrgPolicy(q, row);
        // The entry names the version and a digest of the document (configuration, not PHI; the document itself is in the history).
        op.detail = {
          organization,
          version: String(row.version),
          previous: String(previous),
          breakGlass: checked.override.breakGlass ?? 'enabled',
          roles: Object.keys(checked.override.roles ?? {}).join(' '),
          digest: createHash('sha256').update(text).digest('hex'),
        };
        return viewOf(row);
      },
      (view) => (view.version === 1 ? 201 : 200),
    );
  }
}

function viewOf(row: OrgPolicyRow): OrganizationPolicyView {
  return {
    organization: row.organization,
    version: row.version,
    policyVersion: `${POLICY_VERSION}+${row.organization}@v${row.version}`,
    document: JSON.parse(row.document) as OrganizationOverride,
    changedBy: row.changedBy,
    changedAt: row.changedAt.toISOString(),
  };
}
