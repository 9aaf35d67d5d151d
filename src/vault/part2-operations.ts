import {
  type AuditEntry,
  type DateRange,
  type IntermediaryRecipients,
  PART2_DISCLOSING_ACTIONS,
  type Part2Disclosure,
  part2AccountingOf,
  part2AccountingWindowStart,
  type RequestContext,
} from '../audit/index.js';
import { isFhirId, WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { disclosureCandidates, lastAuditSeq, readCurrent } from '../store/index.js';
import type { OperationDeps } from './audited-runner.js';
import { privacyOfficerDecision } from './break-glass-operations.js';
import { LOG_VIEW_TYPE } from './vault-steps.js';

export type Part2Deps = OperationDeps;

/** `GET /admin/audit/part2-disclosures`: the shape of the 164.528 accounting, plus the intermediaries' recipients. */
export interface Part2Accounting {
  readonly patient: string;
  readonly window: { readonly from: string; readonly to: string };
  readonly disclosures: readonly Part2Disclosure[];
  readonly intermediaries: readonly IntermediaryRecipients[];
}

/**
 * The accounting of a patient's Part 2 consented disclosures (42 CFR §2.25, §2.24): at most three
 * years back, whatever `from` asks; every purpose counts (Part 2 accounts for disclosures made
 * with consent, treatment included). Privacy officers only: the auditor role reads the log, but
 * this report is what a patient is given on request. Audited like any use of the log.
 */
export class Part2Operations {
  readonly #deps: Part2Deps;

  constructor(deps: Part2Deps) {
    this.#deps = deps;
  }

  async accounting(officer: Principal, ctx: RequestContext, patientId: string, window: DateRange): Promise<Part2Accounting> {
    const op = this.#deps.op(officer, ctx, 'audit-report', LOG_VIEW_TYPE);
    op.detail = { report: 'part2-disclosures' };
    return this.#deps.run.read(op, async () => {
      op.decision = privacyOfficerDecision(officer, 'account for Part 2 disclosures');
      if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
      const patient = isFhirId(patientId) ? await readCurrent(this.#deps.db, 'Patient', patientId) : undefined;
      if (!patient) throw new WardError('WARD_NOT_FOUND');
      op.patients = [patient.id];
      const now = this.#deps.now();
      const earliest = part2AccountingWindowStart(now);
      const from = window.from && window.from > earliest ? window.from : earliest;
      const before = window.before ?? new Date(now.getTime() + 1);
      const rows: { seq: number; entry: AuditEntry }[] = [];
      const candidates = disclosureCandidates(this.#deps.db, {
        patientId: patient.id,
        actions: PART2_DISCLOSING_ACTIONS,
        excludedPurposes: [],
        from,
        before,
        atMostSeq: await lastAuditSeq(this.#deps.db),
      });
      for await (const row of candidates) rows.push({ seq: row.seq, entry: JSON.parse(row.entry) as AuditEntry });
      const { disclosures, intermediaries } = part2AccountingOf(rows, patient.id, { from, before });
      op.detail = { ...op.detail, from: from.toISOString(), before: before.toISOString(), listed: String(disclosures.length) };
      return {
        patient: patient.id,
        window: { from: from.toISOString(), to: new Date(before.getTime() - 1).toISOString() },
        disclosures,
        intermediaries,
      };
    });
  }
}
