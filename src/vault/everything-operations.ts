import type { RequestContext } from '../audit/index.js';
import { careDateParameters, type EverythingCursor, type EverythingRequest, isFhirId, WardError } from '../fhir/index.js';
import type { Decision, Principal } from '../policy/index.js';
import {
  compartmentReferrers,
  compartmentRows,
  type EverythingFilter,
  type EverythingKey,
  readCurrent,
  type StoredVersion,
  supportingRows,
} from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { SearchDeps } from './search-operations.js';
import { decideOnType } from './vault-steps.js';
import type { VersionedResource } from './vault-types.js';

/** Rows fetched per round trip while a page fills. */
const BATCH = 200;
/** Referrers fetched per round trip while looking for a visible one. */
const REFERRER_BATCH = 500;

/** One page of `$everything`: the visible resources, in order, and where the next page starts. */
export interface EverythingPage {
  readonly entries: readonly { readonly resource: VersionedResource; readonly mode: 'match' | 'include' }[];
  readonly next?: EverythingCursor;
  /** How many resources the whole answer holds, given only when it fits in this first page. */
  readonly total?: number;
}

interface Visible {
  readonly row: StoredVersion;
  readonly decision: Decision;
  readonly phase: 'first' | 1 | 2;
}

/**
 * `Patient/{id}/$everything` through the vault (ADR 0017). The answer is, in order: the Patient;
 * its compartment (type, id); then the resources in no patient's compartment that a visible
 * compartment resource references (Practitioner, Organization, Location, Medication…). Every row
 * is decided like a search match and dropped when the caller may not see it, so pages and the
 * total count only visible resources; a supporting resource comes only through a referrer the
 * caller may see, so it never betrays a hidden one. A Patient the caller may not see answers 404,
 * exactly like a missing one (no existence oracle). One audit entry records the patient, the
 * parameters and the ids returned.
 */
export class EverythingOperations {
  readonly #deps: SearchDeps;

  constructor(deps: SearchDeps) {
    this.#deps = deps;
  }

  async everything(
    principal: Principal,
    ctx: RequestContext,
    patientId: string,
    request: EverythingRequest,
    options: { pageSize: number },
  ): Promise<EverythingPage> {
    const op = this.#deps.op(principal, ctx, 'search', 'Patient', patientId);
    // 164.524: when the request arrived; the entry's own time is when it was fulfilled.
    op.detail = { operation: 'Patient/$everything', query: request.auditQuery, requested: this.#deps.now().toISOString() };
    return this.#deps.run.read(op, async () => {
      decideOnType(op, 'search');
      const anchor = await this.#anchor(op, principal, patientId);
      const filter: EverythingFilter = {
        ...(request.types ? { types: request.types } : {}),
        ...(request.since ? { since: request.since } : {}),
        ...(request.care ? { care: { ...request.care, params: careDateParameters() } } : {}),
      };
      const wanted = options.pageSize;
      const page: Visible[] = [];
      let more = false;
      const take = (v: Visible): boolean => {
        if (page.length < wanted) page.push(v);
        else more = true;
        return more;
      };
      const cursor = request.cursor;
      if (cursor.phase === 'first' && passes(anchor.row, filter)) take({ ...anchor, phase: 'first' });
      if (cursor.phase !== 2)
        await this.#compartment(principal, anchor.row.id, filter, cursor.phase === 1 ? cursor.after : undefined, take);
      if (!more) await this.#supporting(principal, anchor.row.id, filter, cursor.phase === 2 ? cursor.after : undefined, take);

      op.returned = page.map(({ row }) => keyOf(row));
      op.patients = [...new Set([anchor.row.id, ...page.flatMap(({ row }) => row.patients)])];
      const last = page[page.length - 1];
      return {
        entries: page.map(({ row, decision, phase }) => ({
          resource: this.#deps.reveal(op, row, decision),
          mode: phase === 2 ? ('include' as const) : ('match' as const),
        })),
        ...(more && last ? { next: cursorAfter(last) } : {}),
        ...(cursor.phase === 'first' && !more ? { total: page.length } : {}),
      };
    });
  }

  /** The Patient, decided like a search match; missing, deleted or refused are one answer: 404. */
  async #anchor(op: OperationRecord, principal: Principal, patientId: string): Promise<{ row: StoredVersion; decision: Decision }> {
    const row = isFhirId(patientId) ? await readCurrent(this.#deps.db, 'Patient', patientId) : undefined;
    if (!row || row.deleted) throw new WardError('WARD_NOT_FOUND');
    op.resourceId = row.id;
    op.patients = [row.id];
    const decision = this.#deps.permits(principal, 'search', row, await this.#deps.facts(principal, [row]));
    op.decision = decision;
    if (decision.effect !== 'permit') throw new WardError('WARD_NOT_FOUND');
    return { row, decision };
  }

  /** Phase 1: the compartment after `after`, visible rows handed to `take` until it says the page is full. */
  async #compartment(
    principal: Principal,
    patient: string,
    filter: EverythingFilter,
    after: EverythingKey | undefined,
    take: (v: Visible) => boolean,
  ): Promise<void> {
    for (let from = after; ; ) {
      const rows = await compartmentRows(this.#deps.db, patient, filter, from, BATCH);
      const facts = await this.#deps.facts(principal, rows);
      for (const row of rows) {
        const decision = this.#deps.permits(principal, 'search', row, facts);
        if (decision.effect === 'permit' && take({ row, decision, phase: 1 })) return;
      }
      const last = rows[rows.length - 1];
      if (rows.length < BATCH || !last) return;
      from = { type: last.resourceType, id: last.id };
    }
  }

  /** Phase 2: supporting resources after `after` that the caller may see and reaches through a visible referrer. */
  async #supporting(
    principal: Principal,
    patient: string,
    filter: EverythingFilter,
    after: EverythingKey | undefined,
    take: (v: Visible) => boolean,
  ): Promise<void> {
    const referrers = new Map<string, boolean>();
    for (let from = after; ; ) {
      const rows = await supportingRows(this.#deps.db, patient, filter, from, BATCH);
      const facts = await this.#deps.facts(principal, rows);
      const permitted = rows.flatMap((row) => {
        const decision = this.#deps.permits(principal, 'search', row, facts);
        return decision.effect === 'permit' ? [{ row, decision, phase: 2 as const }] : [];
      });
      const reached = permitted.length > 0 ? await this.#reachedThroughVisible(principal, patient, permitted, referrers) : new Set();
      for (const v of permitted) if (reached.has(keyOf(v.row)) && take(v)) return;
      const last = rows[rows.length - 1];
      if (rows.length < BATCH || !last) return;
      from = { type: last.resourceType, id: last.id };
    }
  }

  /**
   * Which of `targets` some compartment resource the caller may see references. Referrers are
   * decided a batch at a time (each decision kept in `decided` for the request) and the search for
   * a target stops at its first visible referrer.
   */
  async #reachedThroughVisible(
    principal: Principal,
    patient: string,
    targets: readonly Visible[],
    decided: Map<string, boolean>,
  ): Promise<Set<string>> {
    const reached = new Set<string>();
    const byType = new Map<string, string[]>();
    for (const { row } of targets) byType.set(row.resourceType, [...(byType.get(row.resourceType) ?? []), row.id]);
    for (const [type, ids] of byType) {
      for (let offset = 0; ids.some((id) => !reached.has(`${type}/${id}`)); offset += REFERRER_BATCH) {
        const found = await compartmentReferrers(this.#deps.db, patient, type, ids, { limit: REFERRER_BATCH, offset });
        const undecided = found.filter(({ row }) => !decided.has(keyOf(row))).map(({ row }) => row);
        if (undecided.length > 0) {
          const facts = await this.#deps.facts(principal, undecided);
          for (const row of undecided) decided.set(keyOf(row), this.#deps.permits(principal, 'search', row, facts).effect === 'permit');
        }
        for (const { row, targetId } of found) if (decided.get(keyOf(row))) reached.add(`${type}/${targetId}`);
        if (found.length < REFERRER_BATCH) break;
      }
    }
    return reached;
  }
}

/** Whether the Patient itself passes the filters (it has no care date, so `start`/`end` keep it). */
function passes(row: StoredVersion, filter: EverythingFilter): boolean {
  if (filter.types && !filter.types.includes('Patient')) return false;
  return !filter.since || row.lastUpdated.getTime() >= filter.since.getTime();
}

/** The next page starts after the last resource of this one, in its phase. */
function cursorAfter(last: Visible): EverythingCursor {
  if (last.phase === 'first') return { phase: 1 };
  return { phase: last.phase, after: { type: last.row.resourceType, id: last.row.id } };
}

const keyOf = (row: StoredVersion) => `${row.resourceType}/${row.id}`;
