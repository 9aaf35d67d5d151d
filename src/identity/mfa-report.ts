import type { AuditLog, AuditWho, RequestContext } from '../audit/index.js';
import { WardError } from '../fhir/index.js';
import { type Principal, ROLES, type Role } from '../policy/index.js';
import { countMfaEnrollment, type Database } from '../store/index.js';
import { NON_WORKFORCE_ROLES } from './accounts.js';
import { IdentityEventLog } from './identity-event-log.js';
import { PENDING_SESSION_SECONDS, type SessionPolicy } from './sessions.js';
import { RECOVERY_CODE_COUNT, TOTP_WINDOW } from './totp.js';
import type { RelyingParty } from './webauthn.js';

/** Who may read the compliance report over HTTP: the administrator who runs Ward and the officer who answers for it. */
export const COMPLIANCE_REPORT_ROLES: readonly Role[] = ['system-admin', 'privacy-officer'];
/** Most account ids the report lists; the count is always exact. */
const ID_LIST_LIMIT = 1000;

export interface ComplianceReportDeps {
  readonly db: Database;
  readonly audit: AuditLog;
  readonly now: () => Date;
  readonly relyingParty: RelyingParty;
  readonly sessionPolicy: SessionPolicy;
  /** How long a step-up counts (WARD_STEP_UP_MINUTES). */
  readonly stepUpSeconds: number;
}

/** One place a person signs in or re-proves who they are, and what it asks for. */
export interface AuthenticationPoint {
  readonly where: string;
  readonly who: string;
  readonly secondFactor: 'required' | 'not-used';
  readonly factors: readonly string[];
  readonly note?: string;
}

export interface MfaCriterion {
  readonly criterion: '170.315(d)(13)';
  readonly rows: readonly string[];
  readonly title: string;
  readonly answer: 'yes' | 'no';
  readonly mfaUsed: readonly AuthenticationPoint[];
  readonly withoutMfa: readonly AuthenticationPoint[];
  readonly configuration: Record<string, unknown>;
  readonly accounts: Record<string, unknown>;
}

export interface ComplianceReportResult {
  readonly generatedAt: string;
  readonly criteria: readonly MfaCriterion[];
}

/**
 * The compliance report (`GET /admin/compliance/report`, `ward compliance report`): for ONC
 * 170.315(d)(13) and the NPRM's 164.312 authentication, whether Ward supports multi-factor
 * authentication and where it is used, from the running configuration (factors, WebAuthn relying
 * party, step-up window, session limits) and the data (workforce accounts by enrolled factor,
 * listed by account id only — no name, username or PHI). Each report, and each refusal, is audited.
 */
export class ComplianceReport {
  readonly #deps: ComplianceReportDeps;
  readonly #log: IdentityEventLog;

  constructor(deps: ComplianceReportDeps) {
    this.#deps = deps;
    this.#log = new IdentityEventLog(deps.audit, deps.now);
  }

  /** The report for an operator (CLI or admin socket) or a system administrator or privacy officer; anyone else gets 403 (audited). */
  async report(principal: Principal, ctx: RequestContext): Promise<ComplianceReportResult> {
    const who = whoOf(principal);
    if (principal.kind !== 'operator' && !principal.roles.some((r) => COMPLIANCE_REPORT_ROLES.includes(r))) {
      await this.#log.append(ctx, {
        who,
        action: 'compliance-report',
        status: 403,
        code: 'WARD_POLICY_DENIED',
        detail: { reason: `only ${COMPLIANCE_REPORT_ROLES.join(' or ')} (or an operator)` },
      });
      throw new WardError('WARD_POLICY_DENIED');
    }
    const generatedAt = this.#deps.now().toISOString();
    const mfa = await this.#mfa();
    // Durable before the report leaves (invariant 2); the entry holds the answer and counts, never the ids.
    await this.#log.append(ctx, {
      who,
      action: 'compliance-report',
      status: 200,
      detail: {
        criterion: mfa.criterion,
        answer: mfa.answer,
        withoutSecondFactor: String((mfa.accounts.withoutSecondFactor as { count: number }).count),
      },
    });
    return { generatedAt, criteria: [mfa] };
  }

  async #mfa(): Promise<MfaCriterion> {
    const { db, relyingParty, sessionPolicy, stepUpSeconds } = this.#deps;
    const counts = await countMfaEnrollment(db, ID_LIST_LIMIT);
    const workforceRoles = ROLES.filter((r) => !NON_WORKFORCE_ROLES.includes(r));
    const loginFactors = ['totp', 'webauthn', 'recovery-code'];
    const mfaUsed: AuthenticationPoint[] = [
      {
        where: 'web login: POST /auth/login, then /auth/mfa/verify or /auth/mfa/webauthn',
        who: `workforce (${workforceRoles.join(', ')})`,
        secondFactor: 'required',
        factors: loginFactors,
        note: 'a right password alone gives a session that reaches nothing but the second-factor step',
      },
      {
        where: 'first web login: /auth/mfa/totp, /auth/mfa/totp/confirm',
        who: 'workforce',
        secondFactor: 'required',
        factors: ['totp'],
        note: 'TOTP enrollment is enforced before any PHI; recovery codes are issued then',
      },
      {
        where: 'step-up: POST /auth/step-up before break-glass (POST /admin/break-glass)',
        who: 'workforce (clinical roles)',
        secondFactor: 'required',
        factors: ['totp', 'webauthn'],
        note: `counts ${stepUpSeconds / 60} minutes on its own session; recovery codes are refused`,
      },
      {
        where: "authorization server's login page (SMART App Launch, /oauth/interaction)",
        who: 'workforce',
        secondFactor: 'required',
        factors: ['totp', 'webauthn'],
        note: 'a workforce sign-in that cannot present a second factor is refused',
      },
    ];
    const withoutMfa: AuthenticationPoint[] = [
      {
        where: "patient login (POST /auth/login, the authorization server's login page)",
        who: 'patient',
        secondFactor: 'not-used',
        factors: ['password'],
        note: 'a patient account holds no workforce role and reaches only its own record',
      },
      {
        where: 'backend services (SMART Backend Services client_credentials)',
        who: 'system (registered client)',
        secondFactor: 'not-used',
        factors: ['private_key_jwt client assertion'],
        note: 'a client, not a person',
      },
      {
        where: 'operator commands (ward CLI, the local admin socket)',
        who: 'operator',
        secondFactor: 'not-used',
        factors: ['operating-system account owning the data directory'],
        note: 'host access; every command is audited',
      },
    ];
    return {
      criterion: '170.315(d)(13)',
      rows: ['[NPRM] 164.312 authentication', '170.315(d)(13)'],
      title: 'Multi-factor authentication',
      // Yes when every workforce way in asks for a second factor; the points above are what the code enforces.
      answer: mfaUsed.every((p) => p.secondFactor === 'required') ? 'yes' : 'no',
      mfaUsed,
      withoutMfa,
      configuration: {
        totp: { standard: 'RFC 6238', digits: 6, periodSeconds: 30, acceptedStepsEitherSide: TOTP_WINDOW, replay: 'refused' },
        webauthn: { rpId: relyingParty.id, origin: relyingParty.origin, userVerification: 'required' },
        recoveryCodes: { count: RECOVERY_CODE_COUNT, use: 'once each, login only' },
        stepUpMinutes: stepUpSeconds / 60,
        pendingSecondFactorMinutes: PENDING_SESSION_SECONDS / 60,
        sessionIdleMinutes: sessionPolicy.idleSeconds / 60,
        sessionMaxHours: sessionPolicy.absoluteSeconds / 3600,
      },
      accounts: {
        workforceActive: counts.workforceActive,
        workforceInvited: counts.workforceInvited,
        withTotp: counts.withTotp,
        withWebauthn: counts.withWebauthn,
        withoutSecondFactor: {
          count: counts.withoutCount,
          userIds: counts.withoutSecondFactor,
          ...(counts.withoutCount > counts.withoutSecondFactor.length ? { listed: `first ${ID_LIST_LIMIT} by id` } : {}),
          note: 'they reach no PHI: their next login must enroll a second factor first',
        },
        passwordChangeRequired: counts.passwordChangeRequired,
        patientActive: counts.patientActive,
      },
    };
  }
}

function whoOf(p: Principal): AuditWho {
  return {
    id: p.id,
    kind: p.kind,
    roles: p.roles,
    ...(p.clientId ? { clientId: p.clientId } : {}),
    ...(p.tokenId ? { tokenId: p.tokenId } : {}),
  };
}
