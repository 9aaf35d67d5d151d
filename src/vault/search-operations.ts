import type { RequestContext } from '../audit/index.js';
import { extractIndexValues, type FhirResource, type SearchRequest } from '../fhir/index.js';
import type { Decision, PolicyAction, PolicyFacts, Principal } from '../policy/index.js';
import { type SearchCondition, type StoredVersion, searchResources } from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { AuditedRunner } from './audited-runner.js';
import { conditionsOf, longStringChecks, orderOf } from './search-conditions.js';
import { decideOnType } from './vault-steps.js';
import type { SearchPage, VaultDeps, VersionedResource } from './vault-types.js';

/** Rows fetched per round trip while a search fills its page (and counts, for `_total=accurate`). */
const SEARCH_BATCH = 200;

/** What search needs from the vault: its runner, its operation records, and its per-row decision and opening. */
export interface SearchDeps extends VaultDeps {
  readonly run: AuditedRunner;
  readonly op: (
    principal: Principal,
    ctx: RequestContext,
    action: OperationRecord['action'],
    resourceType?: string,
    id?: string,
  ) => OperationRecord;
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts) => Decision;
  /** The policy facts for the principal and the patients of a batch of rows (one query per kind of fact). */
  readonly facts: (principal: Principal, rows: readonly StoredVersion[]) => Promise<PolicyFacts>;
  readonly open: (row: StoredVersion) => VersionedResource;
  /** Opens a row for the caller, applying its permit's obligations (masks). */
  readonly reveal: (op: OperationRecord, row: StoredVersion, decision: Decision, opened?: VersionedResource) => VersionedResource;
}

/** Whether, for each long string criterion, the resource has a value of that parameter starting with one of its values. */
function startsWithAll(resource: FhirResource, checks: readonly { param: string; values: string[] }[]): boolean {
  const strings = extractIndexValues(resource).flatMap((v) => (v.kind === 'string' ? [v] : []));
  return checks.every((c) => strings.some((s) => s.param === c.param && c.values.some((q) => s.normalized.startsWith(q))));
}

/** FHIR search through the vault: the store finds, the vault's decision filters, one audit entry records. */
export class SearchOperations {
  readonly #deps: SearchDeps;

  constructor(deps: SearchDeps) {
    this.#deps = deps;
  }

  /**
   * FHIR search (R4 §3.1.1): the store finds current matches in a stable order; each is decided on
   * like a read and dropped when the principal may not see it, so pages and totals count only
   * visible resources (164.312(a)(1), no existence oracle). The audit entry records the query with
   * identifying values replaced by parameter names, and the ids returned.
   */
  async search(
    principal: Principal,
    ctx: RequestContext,
    resourceType: string,
    request: SearchRequest,
    options: { pageSize: number; compartment?: string },
  ): Promise<SearchPage> {
    const op = this.#deps.op(principal, ctx, 'search', resourceType);
    op.detail = { query: request.auditQuery, ...(options.compartment ? { compartment: 'Patient' } : {}) };
    return this.#deps.run.read(op, async () => {
      decideOnType(op, 'search');
      const now = this.#deps.now();
      const conditions: SearchCondition[] = conditionsOf(this.#deps.keyring.blindIndexer, resourceType, request.criteria, now);
      if (options.compartment !== undefined) conditions.push({ kind: 'compartment', patient: options.compartment });
      const order = orderOf(request.sort);
      const checks = longStringChecks(request.criteria);
      const wanted = request.summaryCount ? 0 : options.pageSize;
      const countAll = request.total === 'accurate' || request.summaryCount;
      const page: { row: StoredVersion; decision: Decision; opened?: VersionedResource }[] = [];
      let visible = 0;
      let hasNext = false;
      let exhausted = false;
      for (let offset = 0; ; offset += SEARCH_BATCH) {
        const rows = await searchResources(this.#deps.db, resourceType, conditions, order, { limit: SEARCH_BATCH, offset });
        const facts = await this.#deps.facts(principal, rows);
        for (const row of rows) {
          const decision = this.#deps.permits(principal, 'search', row, facts);
          if (decision.effect !== 'permit') continue;
          // A long string is checked on the opened resource; keep it, so a page row is opened once.
          const opened = checks.length > 0 ? this.#deps.open(row) : undefined;
          if (opened && !startsWithAll(opened.resource, checks)) continue;
          if (visible >= request.offset && page.length < wanted) page.push({ row, decision, ...(opened ? { opened } : {}) });
          else if (visible >= request.offset + wanted) hasNext = true;
          visible++;
        }
        if (rows.length < SEARCH_BATCH) {
          exhausted = true;
          break;
        }
        if (hasNext && !countAll) break;
      }
      op.returned = page.map(({ row }) => `${row.resourceType}/${row.id}`);
      op.patients = [...new Set(page.flatMap(({ row }) => row.patients))];
      const total = exhausted && request.total !== 'none' ? visible : undefined;
      return {
        entries: page.map(({ row, decision, opened }) => this.#deps.reveal(op, row, decision, opened)),
        hasNext,
        ...(total !== undefined ? { total } : {}),
      };
    });
  }
}
