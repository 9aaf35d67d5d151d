import type { RequestContext } from '../audit/index.js';
import { type Criterion, type SearchRequest, WardError } from '../fhir/index.js';
import type { Decision, PolicyAction, Principal } from '../policy/index.js';
import { type SearchCondition, type StoredVersion, searchResources } from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { AuditedRunner } from './audited-runner.js';
import { conditionsOf, confirmationOf, orderOf } from './search-conditions.js';
import { includedRows } from './search-includes.js';
import { decideOnType } from './vault-steps.js';
import type { SearchPage, VaultDeps, VersionedResource } from './vault-types.js';

/** Rows fetched per round trip while a search fills its page (and counts, for `_total=accurate`). */
const SEARCH_BATCH = 200;
/**
 * The most visible resources a chained or `_has` inner search may match; a broader one is refused
 * (400) rather than turned into an unbounded id list. Counted after policy, so it says nothing
 * about resources the caller cannot see.
 */
export const MAX_INNER_MATCHES = 5000;

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
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion) => Decision;
  readonly open: (row: StoredVersion) => VersionedResource;
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
      const visibleIds = (type: string, criteria: readonly Criterion[]) => this.#innerIds(principal, type, criteria, now);
      const conditions: SearchCondition[] = await conditionsOf(
        this.#deps.keyring.blindIndexer,
        resourceType,
        request.criteria,
        now,
        visibleIds,
      );
      if (options.compartment !== undefined) conditions.push({ kind: 'compartment', patient: options.compartment });
      const order = orderOf(request.sort);
      const confirm = confirmationOf(request.criteria);
      const wanted = request.summaryCount ? 0 : options.pageSize;
      const countAll = request.total === 'accurate' || request.summaryCount;
      const page: { row: StoredVersion; opened?: VersionedResource }[] = [];
      let visible = 0;
      let hasNext = false;
      let exhausted = false;
      for (let offset = 0; ; offset += SEARCH_BATCH) {
        const rows = await searchResources(this.#deps.db, resourceType, conditions, order, { limit: SEARCH_BATCH, offset });
        for (const row of rows) {
          if (this.#deps.permits(principal, 'search', row).effect !== 'permit') continue;
          // A long string or a composite is confirmed on the opened resource; keep it, so a page row is opened once.
          const opened = confirm ? this.#deps.open(row) : undefined;
          if (opened && confirm && !confirm(opened.resource)) continue;
          if (visible >= request.offset && page.length < wanted) page.push({ row, ...(opened ? { opened } : {}) });
          else if (visible >= request.offset + wanted) hasNext = true;
          visible++;
        }
        if (rows.length < SEARCH_BATCH) {
          exhausted = true;
          break;
        }
        if (hasNext && !countAll) break;
      }
      const included =
        request.includes.length > 0 && page.length > 0
          ? await includedRows(
              this.#deps.db,
              request.includes,
              page.map(({ row }) => row),
              (row) => this.#deps.permits(principal, 'search', row).effect === 'permit',
            )
          : { rows: [], truncated: false };
      // Included resources are disclosed like matches: listed, with their patients, for the accounting of disclosures.
      op.returned = [...page.map(({ row }) => keyOf(row)), ...included.rows.map(keyOf)];
      op.patients = [...new Set([...page.flatMap(({ row }) => row.patients), ...included.rows.flatMap((r) => r.patients)])];
      if (included.rows.length > 0) op.detail = { ...op.detail, included: included.rows.map(keyOf).join(' ') };
      const total = exhausted && request.total !== 'none' ? visible : undefined;
      return {
        entries: page.map(({ row, opened }) => opened ?? this.#deps.open(row)),
        included: included.rows.map((row) => this.#deps.open(row)),
        includeTruncated: included.truncated,
        hasNext,
        ...(total !== undefined ? { total } : {}),
      };
    });
  }

  /**
   * The ids of the visible resources of a type matching criteria: a chain's or `_has`'s inner
   * search. Decided row by row like a match, so a chain cannot probe for resources the caller may
   * not see; identifying values are hashed by conditionsOf like any other criterion.
   */
  async #innerIds(principal: Principal, resourceType: string, criteria: readonly Criterion[], now: Date): Promise<string[]> {
    const conditions = await conditionsOf(this.#deps.keyring.blindIndexer, resourceType, criteria, now, (type, inner) =>
      this.#innerIds(principal, type, inner, now),
    );
    const confirm = confirmationOf(criteria);
    const ids: string[] = [];
    for (let offset = 0; ; offset += SEARCH_BATCH) {
      const rows = await searchResources(this.#deps.db, resourceType, conditions, [], { limit: SEARCH_BATCH, offset });
      for (const row of rows) {
        if (this.#deps.permits(principal, 'search', row).effect !== 'permit') continue;
        if (confirm && !confirm(this.#deps.open(row).resource)) continue;
        if (ids.length >= MAX_INNER_MATCHES) {
          throw new WardError('WARD_INVALID_REQUEST', {
            details: [{ diagnostics: `A chained or _has criterion matches more than ${MAX_INNER_MATCHES} resources; narrow it` }],
          });
        }
        ids.push(row.id);
      }
      if (rows.length < SEARCH_BATCH) return ids;
    }
  }
}

const keyOf = (row: StoredVersion) => `${row.resourceType}/${row.id}`;
