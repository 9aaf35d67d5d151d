import type { RequestContext } from '../audit/index.js';
import {
  type AccessReport,
  type AuditEntry,
  type AuditEventResource,
  type AuditSearch,
  accountingOf,
  accountingWindowStart,
  actionCounts,
  auditEventOf,
  checkDisclosureInput,
  checkReviewInput,
  type DateRange,
  DISCLOSING_ACTIONS,
  type Disclosure,
  type ExportFormat,
  exportChunks,
  type FailureSummary,
  failuresByPrincipal,
  idList,
  type ReviewSchedule,
  reviewSchedule,
  unaccountedPurposes,
} from '../audit/index.js';
import { isFhirId, WardError } from '../fhir/index.js';
import { decide, type Principal } from '../policy/index.js';
import {
  accessCounts,
  accessedPatients,
  accessedResources,
  countDefaultPartitionRows,
  disclosureCandidates,
  failureGroups,
  lastAuditSeq,
  readAuditEntry,
  readCurrent,
  readNewestHead,
  readNewestOfAction,
  readOldestEntryTime,
  readRecentOfAction,
  readUnsealed,
  scanAuditEntries,
  searchAuditEntries,
} from '../store/index.js';
import type { OperationRecord } from './audit-trail.js';
import type { OperationDeps } from './audited-runner.js';
import { LOG_VIEW_TYPE } from './vault-steps.js';

export type AuditorDeps = OperationDeps;

export interface AuditEventPage {
  readonly events: readonly AuditEventResource[];
  /** The highest sequence number the search saw; later pages read the same snapshot. */
  readonly snapshot: number;
  /** The offset of the next page, when there is one. */
  readonly nextOffset?: number;
}

export interface Accounting {
  readonly patient: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly disclosures: readonly Disclosure[];
}

/** A disclosure as recorded; its AuditEvent id is known once the entry is committed (search by patient and action). */
export type RecordedDisclosure = Omit<Disclosure, 'auditEvent'>;

/** What this instance's sealer last did (another instance may hold the sealer lock). */
export interface SealerView {
  readonly lastRoundAt?: number;
  readonly lastError?: string;
}

/** `GET /admin/audit/status`: the log's integrity at a glance (issue 7). */
export interface AuditStatus {
  readonly treeSize: number;
  readonly newestHead: {
    readonly treeSize: number;
    readonly lastSeq: number;
    readonly time: string;
    readonly rootHash: string;
    readonly keyId: string;
  } | null;
  readonly unsealedEntries: number;
  /** How long the oldest entry not yet under a signed head has waited (0 when none waits). */
  readonly sealingLagMs: number;
  readonly sealer: { readonly lastRoundAt: string | null; readonly lastError: string | null };
  /** The newest review sign-off and when the next is due (164.308(a)(1)(ii)(D)). */
  readonly review: ReviewReport['schedule'] & { readonly last: Review | null };
  /** Rows the default partition holds: months that had no partition when they arrived (ADR 0008). */
  readonly defaultPartitionRows: number;
  /** The newest `ward audit verify` run, as the log recorded it. */
  readonly lastVerification: {
    readonly at: string;
    readonly by: string;
    readonly result: string;
    readonly faults: number;
    readonly treeSize: number;
  } | null;
}

/** One review sign-off, as its audit entry records it. */
export interface Review {
  readonly auditEvent: string;
  readonly reviewedBy: string;
  readonly reviewedAt: string;
  readonly periodStart: string;
  readonly periodEnd: string;
  readonly note: string;
}

/** `GET /admin/audit/reviews`: the sign-offs, newest first, and whether a review is overdue. */
export interface ReviewReport {
  readonly schedule: ReviewSchedule;
  readonly reviews: readonly Review[];
}

export interface FailureReport {
  readonly window: { readonly from: string; readonly to: string };
  readonly principals: readonly FailureSummary[];
}

/** How far back the access and failure reports look when no `from` is given. */
const DEFAULT_REVIEW_DAYS = 30;
/** Most patient and resource ids an access report lists. */
const ACCESS_LIST_LIMIT = 1000;

/**
 * The auditor API's side of the vault (170.315(d)(3), 164.528, 164.308(a)(1)(ii)(D)): the log read
 * as AuditEvent resources, exported, and summarised, and disclosures recorded into it. Only roles
 * that name AuditEvent pass the decision (privacy officer, auditor); each use is itself audited
 * like any read, its entry durable before anything is returned.
 */
export class AuditorOperations {
  readonly #deps: AuditorDeps;

  constructor(deps: AuditorDeps) {
    this.#deps = deps;
  }

  async search(principal: Principal, ctx: RequestContext, search: AuditSearch): Promise<AuditEventPage> {
    const op = this.#deps.op(principal, ctx, 'search', LOG_VIEW_TYPE);
    op.detail = { parameters: search.parameters.join(' ') };
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const snapshot = search.page?.snapshot ?? (await lastAuditSeq(this.#deps.db));
      const offset = search.page?.offset ?? 0;
      const rows = await searchAuditEntries(this.#deps.db, { ...search.filter, atMostSeq: snapshot }, search.sort, {
        limit: search.count + 1,
        offset,
      });
      const events = rows.slice(0, search.count).map((r) => auditEventOf(r.seq, parse(r.entry)));
      op.returned = events.map((e) => `AuditEvent/${e.id}`);
      return { events, snapshot, ...(rows.length > search.count ? { nextOffset: offset + search.count } : {}) };
    });
  }

  async read(principal: Principal, ctx: RequestContext, id: string): Promise<AuditEventResource> {
    const op = this.#deps.op(principal, ctx, 'read', LOG_VIEW_TYPE, id);
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'read');
      const row = /^\d{1,15}$/.test(id) ? await readAuditEntry(this.#deps.db, Number(id)) : undefined;
      if (!row) throw new WardError('WARD_NOT_FOUND');
      op.resourceId = String(row.seq);
      return auditEventOf(row.seq, parse(row.entry));
    });
  }

  /**
   * The log in a window, as text chunks in the format asked for. The decision and the export's own
   * entry come first; rows are then read page by page as the client takes them, up to the log's
   * end at the moment of the request.
   */
  async export(
    principal: Principal,
    ctx: RequestContext,
    window: DateRange,
    format: ExportFormat,
    fhirBase: string,
  ): Promise<AsyncIterable<string>> {
    const op = this.#deps.op(principal, ctx, 'audit-export', LOG_VIEW_TYPE);
    op.detail = { format, ...windowDetail(window) };
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const snapshot = await lastAuditSeq(this.#deps.db);
      const rows = scanAuditEntries(this.#deps.db, { ...window, atMostSeq: snapshot });
      return exportChunks(format, entriesOf(rows), { fhirBase, timestamp: this.#deps.now() });
    });
  }

  /**
   * The accounting of disclosures of one patient's PHI (45 CFR 164.528): at most six years back
   * from now, whatever `from` asks; leaves out TPO and patient-directed disclosures.
   */
  async disclosures(principal: Principal, ctx: RequestContext, patientId: string, window: DateRange): Promise<Accounting> {
    const op = this.#deps.op(principal, ctx, 'audit-report', LOG_VIEW_TYPE);
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      await this.#confirmPatient(op, patientId);
      const now = this.#deps.now();
      const earliest = accountingWindowStart(now);
      const from = window.from && window.from > earliest ? window.from : earliest;
      const before = window.before ?? new Date(now.getTime() + 1);
      const candidates: { seq: number; entry: AuditEntry }[] = [];
      const rows = disclosureCandidates(this.#deps.db, {
        patientId,
        actions: DISCLOSING_ACTIONS,
        excludedPurposes: unaccountedPurposes(),
        from,
        before,
        atMostSeq: await lastAuditSeq(this.#deps.db),
      });
      for await (const row of rows) candidates.push({ seq: row.seq, entry: parse(row.entry) });
      const disclosures = accountingOf(candidates, patientId, { from, before });
      op.detail = { report: 'disclosures', ...windowDetail({ from, before }), listed: String(disclosures.length) };
      return { patient: patientId, window: windowOf(from, before), disclosures };
    });
  }

  /** Records a disclosure made outside Ward (for example to public health) as an audit entry of its own. */
  async recordDisclosure(principal: Principal, ctx: RequestContext, body: unknown): Promise<RecordedDisclosure> {
    const op = this.#deps.op(principal, ctx, 'disclose', 'Patient');
    return this.#deps.run.write(
      op,
      { transactional: false },
      async (q) => {
        this.#decide(op, 'create');
        const input = checkDisclosureInput(body, this.#deps.now());
        const patient = await readCurrent(q, 'Patient', input.patient);
        if (!patient)
          throw new WardError('WARD_UNPROCESSABLE', {
            details: [{ expression: 'patient', diagnostics: 'patient names no Patient in this Ward' }],
          });
        op.resourceId = patient.id;
        op.patients = [patient.id];
        op.purposeOfUse = input.purpose;
        op.detail = {
          disclosedAt: input.date,
          recipientName: input.recipient.name,
          ...(input.recipient.address ? { recipientAddress: input.recipient.address } : {}),
          description: input.description,
        };
        return {
          date: input.date,
          recipient: input.recipient,
          description: input.description,
          purpose: { code: input.purpose },
          source: 'recorded' as const,
          recordedBy: principal.id,
        };
      },
      () => 201,
    );
  }

  /** One principal's activity in a window: entries per action and outcome, and the patients and resources it reached. */
  async accessReport(principal: Principal, ctx: RequestContext, principalId: string, window: DateRange): Promise<AccessReport> {
    const op = this.#deps.op(principal, ctx, 'audit-report', LOG_VIEW_TYPE);
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const { from, before } = this.#reviewWindow(window);
      op.detail = { report: 'access', principal: principalId, ...windowDetail({ from, before }) };
      const w = { principalId, from, before, atMostSeq: await lastAuditSeq(this.#deps.db) };
      const [counts, patients, resources] = [
        await accessCounts(this.#deps.db, w),
        await accessedPatients(this.#deps.db, w, ACCESS_LIST_LIMIT + 1),
        await accessedResources(this.#deps.db, w, ACCESS_LIST_LIMIT + 1),
      ];
      return {
        principal: principalId,
        window: windowOf(from, before),
        actions: actionCounts(counts),
        patients: idList(patients, ACCESS_LIST_LIMIT),
        resources: idList(resources, ACCESS_LIST_LIMIT),
      };
    });
  }

  /** Refused and invalid requests per principal in a window (164.308(a)(5)(ii)(C), as far as today's entries go). */
  async failures(principal: Principal, ctx: RequestContext, window: DateRange): Promise<FailureReport> {
    const op = this.#deps.op(principal, ctx, 'audit-report', LOG_VIEW_TYPE);
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const { from, before } = this.#reviewWindow(window);
      op.detail = { report: 'failures', ...windowDetail({ from, before }) };
      const groups = await failureGroups(this.#deps.db, { from, before, atMostSeq: await lastAuditSeq(this.#deps.db) });
      return { window: windowOf(from, before), principals: failuresByPrincipal(groups) };
    });
  }

  /**
   * Records a privacy officer's review of a period's activity records (164.308(a)(1)(ii)(D)) as
   * an audit entry: only a role that may append to the log (`c` on AuditEvent) may sign off.
   */
  async recordReview(principal: Principal, ctx: RequestContext, body: unknown): Promise<Omit<Review, 'auditEvent'>> {
    const op = this.#deps.op(principal, ctx, 'audit-review', LOG_VIEW_TYPE);
    return this.#deps.run.write(
      op,
      { transactional: false },
      async () => {
        this.#decide(op, 'create');
        const input = checkReviewInput(body, this.#deps.now());
        op.detail = { periodStart: input.periodStart, periodEnd: input.periodEnd, note: input.note };
        return {
          reviewedBy: principal.id,
          reviewedAt: this.#deps.now().toISOString(),
          periodStart: input.periodStart,
          periodEnd: input.periodEnd,
          note: input.note,
        };
      },
      () => 201,
    );
  }

  /** The review sign-offs, newest first (at most 100), and when the next is due. */
  async reviews(principal: Principal, ctx: RequestContext, intervalDays: number): Promise<ReviewReport> {
    const op = this.#deps.op(principal, ctx, 'audit-report', LOG_VIEW_TYPE);
    op.detail = { report: 'reviews' };
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const reviews = (await readRecentOfAction(this.#deps.db, 'audit-review', 100)).map((r) => reviewOf(r.seq, parse(r.entry)));
      return { schedule: await this.#reviewSchedule(reviews[0], intervalDays), reviews };
    });
  }

  /**
   * Any attempt to change audit status or configuration (170.315(d)(2)(ii)–(iii)). There is no
   * switch to turn: a role that may not touch the log is refused (403), one that may is told the
   * method is not allowed (405). Either way the attempt is an audit entry with who and when.
   */
  async refuseConfigChange(principal: Principal, ctx: RequestContext): Promise<never> {
    const op = this.#deps.op(principal, ctx, 'audit-configure', LOG_VIEW_TYPE);
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'create');
      throw new WardError('WARD_METHOD_NOT_ALLOWED', {
        details: [{ diagnostics: 'Audit cannot be turned off or reconfigured: it is always on, and this resource is read-only' }],
      });
    });
  }

  /** The newest signed head, what waits to be sealed, the sealer's last round and the last verification. */
  async status(principal: Principal, ctx: RequestContext, sealer: SealerView, reviewIntervalDays = 30): Promise<AuditStatus> {
    const op = this.#deps.op(principal, ctx, 'audit-report', LOG_VIEW_TYPE);
    op.detail = { report: 'status' };
    return this.#deps.run.read(op, async () => {
      this.#decide(op, 'search');
      const head = await readNewestHead(this.#deps.db);
      const unsealed = await readUnsealed(this.#deps.db, head?.lastSeq ?? 0);
      const verified = await readNewestOfAction(this.#deps.db, 'audit-verify');
      const verification = verified ? parse(verified.entry) : undefined;
      const newestReview = (await readRecentOfAction(this.#deps.db, 'audit-review', 1)).map((r) => reviewOf(r.seq, parse(r.entry)))[0];
      return {
        review: { ...(await this.#reviewSchedule(newestReview, reviewIntervalDays)), last: newestReview ?? null },
        defaultPartitionRows: await countDefaultPartitionRows(this.#deps.db),
        treeSize: head?.treeSize ?? 0,
        newestHead: head
          ? {
              treeSize: head.treeSize,
              lastSeq: head.lastSeq,
              time: new Date(head.timestampMs).toISOString(),
              rootHash: head.rootHash.toString('hex'),
              keyId: head.keyId,
            }
          : null,
        unsealedEntries: unsealed.count,
        sealingLagMs: unsealed.oldest ? Math.max(0, this.#deps.now().getTime() - unsealed.oldest.getTime()) : 0,
        sealer: {
          lastRoundAt: sealer.lastRoundAt === undefined ? null : new Date(sealer.lastRoundAt).toISOString(),
          lastError: sealer.lastError ?? null,
        },
        lastVerification: verification
          ? {
              at: verification.time,
              by: verification.who.id,
              result: verification.detail?.result ?? 'unknown',
              faults: Number(verification.detail?.faults ?? 0),
              treeSize: Number(verification.detail?.treeSize ?? 0),
            }
          : null,
      };
    });
  }

  // ── steps ────────────────────────────────────────────────────────────────────────────────

  /** Only a role that names AuditEvent, with a scope that grants it, reaches the log. */
  #decide(op: OperationRecord, action: 'read' | 'search' | 'create'): void {
    const decision = decide(op.principal as Principal, action, { resourceType: LOG_VIEW_TYPE });
    op.decision = decision;
    if (decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
  }

  async #reviewSchedule(newest: Review | undefined, intervalDays: number): Promise<ReviewSchedule> {
    const started = newest ? undefined : await readOldestEntryTime(this.#deps.db);
    return reviewSchedule(newest ? new Date(newest.reviewedAt) : undefined, started, intervalDays, this.#deps.now());
  }

  /** The patient of an accounting must exist (or have existed: a deleted Patient keeps its accounting). */
  async #confirmPatient(op: OperationRecord, patientId: string): Promise<void> {
    const row = isFhirId(patientId) ? await readCurrent(this.#deps.db, 'Patient', patientId) : undefined;
    if (!row) throw new WardError('WARD_NOT_FOUND');
    op.patients = [row.id];
  }

  #reviewWindow(window: DateRange): { from: Date; before: Date } {
    const now = this.#deps.now();
    return {
      from: window.from ?? new Date(now.getTime() - DEFAULT_REVIEW_DAYS * 24 * 3600 * 1000),
      before: window.before ?? new Date(now.getTime() + 1),
    };
  }
}

function reviewOf(seq: number, entry: AuditEntry): Review {
  return {
    auditEvent: `AuditEvent/${seq}`,
    reviewedBy: entry.who.id,
    reviewedAt: entry.time,
    periodStart: entry.detail?.periodStart ?? '',
    periodEnd: entry.detail?.periodEnd ?? '',
    note: entry.detail?.note ?? '',
  };
}

function parse(entry: string): AuditEntry {
  return JSON.parse(entry) as AuditEntry;
}

async function* entriesOf(rows: AsyncIterable<{ seq: number; entry: string }>): AsyncGenerator<{ seq: number; entry: AuditEntry }> {
  for await (const row of rows) yield { seq: row.seq, entry: parse(row.entry) };
}

/** A window as reports show it: both ends inclusive, to the millisecond. */
function windowOf(from: Date, before: Date): { from: string; to: string } {
  return { from: from.toISOString(), to: new Date(before.getTime() - 1).toISOString() };
}

function windowDetail(window: DateRange): Record<string, string> {
  return {
    ...(window.from ? { from: window.from.toISOString() } : {}),
    ...(window.before ? { before: window.before.toISOString() } : {}),
  };
}
