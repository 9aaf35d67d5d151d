import type { RequestContext } from '../audit/index.js';
import type { Criterion, SearchRequest } from '../fhir/index.js';
import type { Decision, PolicyAction, PolicyFacts, Principal } from '../policy/index.js';
import type { SearchCondition, SearchOrder, StoredVersion } from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { AuditedRunner, NewOperation } from './audited-runner.js';
import { refuseSearchOnMaskedElements } from './masked-search.js';
import { patientsOfRow } from './policy-facts.js';
import { conditionsOf, confirmationOf, orderOf } from './search-conditions.js';
import { includedRows } from './search-includes.js';
import { decideOnType } from './vault-steps.js';
import type { SearchPage, VaultDeps, VersionedResource } from './vault-types.js';
import { type MatchDeps, visibleIds } from './visible-matches.js';

/** Rows fetched per round trip while a search fills its page (and counts, for `_total=accurate`). */
const SEARCH_BATCH = 200;

/** One page of a search, as the store runs it. */
export interface SearchBatch {
  readonly type: string;
  readonly conditions: readonly SearchCondition[];
  readonly order: readonly SearchOrder[];
  readonly page: { limit: number; offset: number };
}

/** What search needs from the vault: its runner, its operation records, and its per-row decision and opening. */
export interface SearchDeps extends VaultDeps {
  readonly run: AuditedRunner;
  readonly op: NewOperation;
  readonly permits: (principal: Principal, action: PolicyAction, row: StoredVersion, facts: PolicyFacts) => Decision;
  /** The policy facts for the principal and the patients of a batch of rows (one statement). */
  readonly facts: (principal: Principal, rows: readonly StoredVersion[]) => Promise<PolicyFacts>;
  /** A batch of search results and the policy facts of its patients, in one round trip. */
  readonly batch: (principal: Principal, search: SearchBatch) => Promise<{ rows: StoredVersion[]; facts: PolicyFacts }>;
  readonly open: (row: StoredVersion) => VersionedResource;
  /** Opens a row for the caller, applying its permit's obligations (masks). */
  readonly reveal: (
    op: OperationRecord,
    row: StoredVersion,
    decision: Decision | undefined,
    opened?: VersionedResource,
  ) => VersionedResource;
}

/** FHIR search through the vault: the store finds, the vault's decision filters, one audit entry records. */
export class SearchOperations {
  readonly #deps: SearchDeps;
  readonly #matchDeps: MatchDeps;

  constructor(deps: SearchDeps) {
    this.#deps = deps;
    this.#matchDeps = {
      indexer: deps.keyring.blindIndexer,
      now: deps.now,
      permits: deps.permits,
      facts: (_q, principal, rows) => deps.facts(principal, rows),
      open: deps.open,
    };
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
      refuseSearchOnMaskedElements(op, resourceType, request);
      const now = this.#deps.now();
      const inner = (type: string, criteria: readonly Criterion[]) => visibleIds(this.#matchDeps, this.#deps.db, principal, type, criteria);
      const conditions: SearchCondition[] = await conditionsOf(this.#deps.keyring.blindIndexer, resourceType, request.criteria, now, inner);
      if (options.compartment !== undefined) conditions.push({ kind: 'compartment', patient: options.compartment });
      const order = orderOf(request.sort);
      const confirm = confirmationOf(request.criteria);
      const wanted = request.summaryCount ? 0 : options.pageSize;
      const countAll = request.total === 'accurate' || request.summaryCount;
      const page: { row: StoredVersion; decision: Decision; opened?: VersionedResource }[] = [];
      let visible = 0;
      let hasNext = false;
      let exhausted = false;
      // The facts of each batch, with the patients they were loaded for: included resources of the
      // same patients (an Observation's subject) are decided on them instead of loading them again.
      const loaded: { patients: ReadonlySet<string>; facts: PolicyFacts }[] = [];
      // The first batch reads only as far as the page needs (and one more row, to know whether a
      // next page exists) unless every match is to be counted: a page of 50 out of 100 matches
      // reads 51 rows and their patients' facts, not 100. The total is then given only when that
      // batch held every match (or when a total was asked for, `_count=0` included), as R4 allows.
      const fullBatches = countAll || request.total === 'estimate' || wanted === 0;
      for (let offset = 0, limit = fullBatches ? SEARCH_BATCH : Math.min(SEARCH_BATCH, request.offset + wanted + 1); ; ) {
        const { rows, facts } = await this.#deps.batch(principal, {
          type: resourceType,
          conditions,
          order,
          page: { limit, offset },
        });
        loaded.push({ patients: new Set(rows.flatMap(patientsOfRow)), facts });
        for (const row of rows) {
          const decision = this.#deps.permits(principal, 'search', row, facts);
          if (decision.effect !== 'permit') continue;
          // A long string or a composite is confirmed on the opened resource; keep it, so a page row is opened once.
          const opened = confirm ? this.#deps.open(row) : undefined;
          if (opened && confirm && !confirm(opened.resource)) continue;
          if (visible >= request.offset && page.length < wanted) page.push({ row, decision, ...(opened ? { opened } : {}) });
          else if (visible >= request.offset + wanted) hasNext = true;
          visible++;
        }
        if (rows.length < limit) {
          exhausted = true;
          break;
        }
        if (hasNext && !countAll) break;
        offset += limit;
        limit = SEARCH_BATCH;
      }
      // Included resources are decided like matches, a batch at a time with their patients' facts.
      const includedDecisions = new Map<StoredVersion, Decision>();
      const visibleOf = async (rows: readonly StoredVersion[]) => {
        // Facts are per patient (each decision looks up its row's patients), so a batch's facts serve any row of those patients.
        const patients = rows.flatMap(patientsOfRow);
        const facts = loaded.find((l) => patients.every((p) => l.patients.has(p)))?.facts ?? (await this.#deps.facts(principal, rows));
        for (const row of rows) {
          const decision = this.#deps.permits(principal, 'search', row, facts);
          if (decision.effect === 'permit') includedDecisions.set(row, decision);
        }
        return (row: StoredVersion) => includedDecisions.has(row);
      };
      const included =
        request.includes.length > 0 && page.length > 0
          ? await includedRows(
              this.#deps.db,
              request.includes,
              page.map(({ row }) => row),
              visibleOf,
            )
          : { rows: [], truncated: false };
      // Included resources are disclosed like matches: listed, with their patients, for the accounting of disclosures.
      op.returned = [...page.map(({ row }) => keyOf(row)), ...included.rows.map(keyOf)];
      op.patients = [...new Set([...page.flatMap(({ row }) => row.patients), ...included.rows.flatMap((r) => r.patients)])];
      if (included.rows.length > 0) op.detail = { ...op.detail, included: included.rows.map(keyOf).join(' ') };
      const total = exhausted && request.total !== 'none' ? visible : undefined;
      return {
        entries: page.map(({ row, decision, opened }) => this.#deps.reveal(op, row, decision, opened)),
        // Included resources carry their own decision's obligations (masks), like matches.
        included: included.rows.map((row) => this.#deps.reveal(op, row, includedDecisions.get(row))),
        includeTruncated: included.truncated,
        hasNext,
        ...(total !== undefined ? { total } : {}),
      };
    });
  }
}

const keyOf = (row: StoredVersion) => `${row.resourceType}/${row.id}`;
