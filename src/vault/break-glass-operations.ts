import type { RequestContext } from '../audit/index.js';
import { type Keyring, open, seal } from '../crypto/index.js';
import { isFhirId, WardError } from '../fhir/index.js';
import { ACCESS_POLICY, checkStepUp, type Decision, decide, POLICY_VERSION, type Principal, type StepUpCheck } from '../policy/index.js';
import {
  type BreakGlassGrantRow,
  insertGrant,
  listGrants,
  type ReviewStatus,
  readCurrent,
  readGrant,
  reviewGrant,
} from '../store/index.js';
import type { OperationDeps } from './audited-runner.js';
import { refuseWhereBreakGlassDisabled } from './break-glass-organization.js';
import { type Part2EmergencyRecord, part2EmergencyRecords } from './part2-emergency-records.js';
import { LOG_VIEW_TYPE } from './vault-steps.js';

/** HL7 v3 PurposeOfUse codes a break-glass request may give: emergency treatment, break the glass. */
export const BREAK_GLASS_REASONS = ['ETREAT', 'BTG'] as const;
/** Issue 6 §5: a grant lasts 60 minutes by default, and never longer. */
export const BREAK_GLASS_MAX_MINUTES = 60;
const MAX_JUSTIFICATION = 1000;
const REVIEW_PAGE = 500;

export interface BreakGlassRequest {
  readonly patient: string;
  readonly reasonCode: string;
  readonly justification: string;
  readonly minutes?: number;
}

export interface BreakGlassGrantView {
  readonly id: string;
  readonly principal: string;
  readonly patient: string;
  readonly reasonCode: string;
  readonly start: string;
  readonly end: string;
  readonly reviewStatus: ReviewStatus;
  /** Shown to privacy officers only, in the review queue. */
  readonly justification?: string;
  readonly reviewedBy?: string;
  readonly reviewedAt?: string;
  /** In the review queue: each use of the grant that disclosed Part 2 records, with its §2.51 fields. */
  readonly part2Emergency?: readonly Part2EmergencyRecord[];
}

export interface BreakGlassDeps extends OperationDeps {
  readonly keyring: Keyring;
  readonly newId: () => string;
  /** How long a step-up counts (ADR 0014; `WARD_STEP_UP_MINUTES`). */
  readonly stepUpSeconds: number;
}

/**
 * MFA step-up for break-glass (issue 6 §5, ADR 0014): the clinician must have proved a second
 * factor on this web session within the window. A session without one gets 401
 * `WARD_STEP_UP_REQUIRED` (step up and retry); a bearer token, which cannot be re-prompted
 * (operator, login or app tokens), gets 403 `WARD_STEP_UP_UNAVAILABLE`. Either refusal is a
 * policy denial in the request's audit entry, with the reason.
 */
export function breakGlassStepUp(
  principal: Principal,
  now: Date,
  windowSeconds: number,
): Extract<StepUpCheck, { kind: 'fresh' }> | { readonly refusal: WardError; readonly decision: Decision; readonly detail: string } {
  const check = checkStepUp(principal, now, windowSeconds);
  if (check.kind === 'fresh') return check;
  const rule = `${POLICY_VERSION}/break-glass/step-up`;
  if (check.kind === 'unavailable')
    return {
      refusal: new WardError('WARD_STEP_UP_UNAVAILABLE'),
      decision: { effect: 'deny', reasons: [`${rule}: a bearer token cannot prove a second factor; break the glass from a web session`] },
      detail: 'unavailable',
    };
  const why = check.reason === 'never' ? 'no step-up on this session' : `the last step-up is older than ${windowSeconds} s`;
  return {
    refusal: new WardError('WARD_STEP_UP_REQUIRED', {
      details: [{ diagnostics: `Prove a second factor with POST /auth/step-up and retry; a step-up counts for ${windowSeconds} seconds` }],
    }),
    decision: { effect: 'deny', reasons: [`${rule}: ${why}`] },
    detail: check.reason === 'never' ? 'required' : 'stale',
  };
}

/** Only a privacy officer whose token reaches the audit log oversees break-glass and explains decisions. */
export function privacyOfficerDecision(officer: Principal, what: string): Decision {
  const decision = decide(officer, 'read', { resourceType: LOG_VIEW_TYPE });
  return officer.roles.includes('privacy-officer')
    ? decision
    : { effect: 'deny', reasons: [...decision.reasons, `${POLICY_VERSION}/privacy-officer: only a privacy officer may ${what}`] };
}

const aad = (id: string) => Buffer.from(`ward:break-glass:v1:${id}`);

/**
 * Emergency access (164.312(a)(2)(ii), 42 CFR Part 2 §2.51): a clinical workforce user asks for a
 * time-boxed grant to one patient with a reason code and a justification; the grant is stored
 * with its justification sealed, every later access it permits is named in that access's audit
 * entry, and the grant itself is the privacy officers' alert, open until one of them
 * acknowledges or escalates it. The policy engine decides what a grant lifts (ADR 0009).
 */
export class BreakGlassOperations {
  readonly #deps: BreakGlassDeps;

  constructor(deps: BreakGlassDeps) {
    this.#deps = deps;
  }

  async request(principal: Principal, ctx: RequestContext, input: BreakGlassRequest): Promise<BreakGlassGrantView> {
    const op = this.#deps.op(principal, ctx, 'break-glass', 'Patient', input.patient);
    return this.#deps.run.write(
      op,
      { transactional: true },
      async (q) => {
        const role = principal.kind === 'user' ? principal.roles.find((r) => ACCESS_POLICY[r].clinical) : undefined;
        op.decision = role
          ? { effect: 'permit', reasons: [`${POLICY_VERSION}/break-glass/request: clinical role ${role}`], obligations: [] }
          : { effect: 'deny', reasons: [`${POLICY_VERSION}/break-glass/request: only a clinical workforce user may break the glass`] };
        if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
        refuseWhereBreakGlassDisabled(op);
        // Before the request is read or the patient looked up: without a step-up, nothing is learnt.
        const stepUp = breakGlassStepUp(principal, this.#deps.now(), this.#deps.stepUpSeconds);
        if ('refusal' in stepUp) {
          op.decision = { ...stepUp.decision, reasons: [...op.decision.reasons, ...stepUp.decision.reasons] };
          op.detail = { stepUp: stepUp.detail };
          throw stepUp.refusal;
        }
        const minutes = checkRequest(input);
        const patient = isFhirId(input.patient) ? await readCurrent(q, 'Patient', input.patient) : undefined;
        if (!patient || patient.deleted) throw new WardError('WARD_NOT_FOUND');
        op.resourceId = patient.id;
        op.patients = [patient.id];
        const id = this.#deps.newId();
        const start = this.#deps.now();
        const end = new Date(start.getTime() + minutes * 60_000);
        // AES-256-GCM under the active data key, AAD bound to the grant id: the justification is free text and may hold PHI.
        const box = seal(this.#deps.keyring.activeDataKey(), Buffer.from(input.justification, 'utf8'), aad(id));
        await insertGrant(q, {
          id,
          principal: principal.id,
          patient: patient.id,
          reasonCode: input.reasonCode,
          keyId: box.keyId,
          iv: box.iv,
          justification: box.ciphertext,
          startsAt: start,
          endsAt: end,
          createdAt: start,
        });
        op.detail = {
          grant: id,
          reasonCode: input.reasonCode,
          ends: end.toISOString(),
          stepUp: stepUp.method,
          stepUpAt: stepUp.at.toISOString(),
          alert: 'privacy-officer-review',
        };
        return {
          id,
          principal: principal.id,
          patient: patient.id,
          reasonCode: input.reasonCode,
          start: start.toISOString(),
          end: end.toISOString(),
          reviewStatus: 'open' as const,
        };
      },
      () => 201,
    );
  }

  /** The review queue (and alert list): grants by status, oldest first, with their justification. */
  async reviews(officer: Principal, ctx: RequestContext, status: ReviewStatus | undefined): Promise<BreakGlassGrantView[]> {
    const op = this.#deps.op(officer, ctx, 'break-glass-review');
    op.detail = { list: status ?? 'all' };
    return this.#deps.run.read(op, async () => {
      op.decision = privacyOfficerDecision(officer, 'review break-glass');
      if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
      const grants = await listGrants(this.#deps.db, status, REVIEW_PAGE);
      op.patients = [...new Set(grants.map((g) => g.patient))];
      op.returned = grants.map((g) => `break-glass/${g.id}`);
      const part2 = await part2EmergencyRecords(this.#deps.db, grants);
      return grants.map((g) => ({ ...this.#view(g, true), part2Emergency: part2.get(g.id) ?? [] }));
    });
  }

  /** Acknowledges or escalates one open grant, once; audited with the outcome. */
  async review(officer: Principal, ctx: RequestContext, id: string, outcome: 'acknowledged' | 'escalated'): Promise<BreakGlassGrantView> {
    const op = this.#deps.op(officer, ctx, 'break-glass-review');
    op.detail = { outcome };
    return this.#deps.run.write(
      op,
      { transactional: true },
      async (q) => {
        op.decision = privacyOfficerDecision(officer, 'review break-glass');
        if (op.decision.effect !== 'permit') throw new WardError('WARD_POLICY_DENIED');
        const grant = /^[A-Za-z0-9-]{1,64}$/.test(id) ? await readGrant(q, id) : undefined;
        if (!grant) throw new WardError('WARD_NOT_FOUND');
        op.patients = [grant.patient];
        op.detail = { outcome, grant: grant.id, principal: grant.principal };
        if (!(await reviewGrant(q, grant.id, outcome, officer.id, this.#deps.now()))) throw new WardError('WARD_ALREADY_REVIEWED');
        return this.#view({ ...grant, reviewStatus: outcome, reviewedBy: officer.id, reviewedAt: this.#deps.now() }, false);
      },
      () => 200,
    );
  }

  #view(g: BreakGlassGrantRow, withJustification: boolean): BreakGlassGrantView {
    return {
      id: g.id,
      principal: g.principal,
      patient: g.patient,
      reasonCode: g.reasonCode,
      start: g.startsAt.toISOString(),
      end: g.endsAt.toISOString(),
      reviewStatus: g.reviewStatus,
      ...(withJustification
        ? {
            justification: open(
              this.#deps.keyring.dataKey(g.keyId),
              { keyId: g.keyId, iv: g.iv, ciphertext: g.justification },
              aad(g.id),
            ).toString('utf8'),
          }
        : {}),
      ...(g.reviewedBy ? { reviewedBy: g.reviewedBy } : {}),
      ...(g.reviewedAt ? { reviewedAt: g.reviewedAt.toISOString() } : {}),
    };
  }
}

/** A refusal that names what is wrong, never echoing the input (invariant 5). Returns the grant's minutes. */
function checkRequest(input: BreakGlassRequest): number {
  const invalid = (diagnostics: string) => new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics }] });
  if (!(BREAK_GLASS_REASONS as readonly string[]).includes(input.reasonCode))
    throw invalid(`reasonCode must be one of ${BREAK_GLASS_REASONS.join(', ')}`);
  if (typeof input.justification !== 'string' || input.justification.trim() === '') throw invalid('justification is required');
  if (input.justification.length > MAX_JUSTIFICATION) throw invalid(`justification must be at most ${MAX_JUSTIFICATION} characters`);
  const minutes = input.minutes ?? BREAK_GLASS_MAX_MINUTES;
  if (!Number.isInteger(minutes) || minutes < 1 || minutes > BREAK_GLASS_MAX_MINUTES)
    throw invalid(`minutes must be a whole number from 1 to ${BREAK_GLASS_MAX_MINUTES}`);
  return minutes;
}
