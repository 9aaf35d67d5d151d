/**
 * One audit entry (ONC 170.315(d)(2)/(d)(3), ASTM E2147): who, what, when, where, why, the policy
 * decision and the outcome. It carries ids and codes only, never resource contents (invariant 5).
 */

/** Every action an entry can record; the AuditEvent view and the search parameters name them all. */
export const AUDIT_ACTIONS = [
  'create',
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'search',
  'history',
  'request',
  'token-create',
  'migrate',
  'key-create',
  /** `ward audit verify` ran (its result counts are in the detail). */
  'audit-verify',
  /** `ward audit prove` printed an inclusion proof. */
  'audit-prove',
  /** A disclosure of a patient's PHI recorded by a privacy officer (45 CFR 164.528). */
  'disclose',
  /** The audit log itself exported (NDJSON, CSV or a Bundle). */
  'audit-export',
  /** A report over the audit log: accounting of disclosures, access report, failures. */
  'audit-report',
  /** A password login succeeded and an access token was issued (its id is in the detail, never the token). */
  'login',
  /** A password login was refused: unknown user, wrong password, deactivated, locked or throttled. */
  'login-failed',
  /** An account reached the consecutive-failure limit and refuses logins (NIST SP 800-63B §3.2.2). */
  'account-locked',
  /** An operator created an account and its enrollment code. */
  'user-create',
  /** An operator deactivated an account. */
  'user-deactivate',
  /** An operator lifted a login lock or back-off. */
  'account-unlock',
  /** An enrollment code was redeemed to set a first password (or refused). */
  'enroll',
  /** A privacy officer asked why the policy permits or denies a principal an action (no data returned). */
  'policy-explain',
  /** A clinician was granted (or refused) time-boxed emergency access to a patient; privacy officers are alerted. */
  'break-glass',
  /** A privacy officer acknowledged or escalated a break-glass grant. */
  'break-glass-review',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export type PrincipalKind = 'user' | 'patient' | 'system' | 'operator' | 'anonymous';

export interface AuditWho {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly roles: readonly string[];
  readonly clientId?: string;
  readonly scopes?: string;
  readonly tokenId?: string;
  /** Automated agents are recorded with their name and version (invariant 7). */
  readonly agent?: { readonly name: string; readonly version: string };
}

export interface AuditWhere {
  readonly requestId?: string;
  readonly address?: string;
  readonly userAgent?: string;
  readonly listener?: 'https' | 'http' | 'admin-socket' | 'cli';
  readonly method?: string;
  /** Route pattern, e.g. /fhir/:type/:id — never the concrete URL, whose query may hold PHI. */
  readonly route?: string;
}

export interface AuditDecision {
  /** 'none' when no policy decision was reached (no credentials, malformed request). */
  readonly effect: 'permit' | 'deny' | 'none';
  readonly reasons: readonly string[];
}

export interface AuditOutcome {
  readonly status: number;
  readonly code?: string;
}

export interface AuditEntry {
  readonly time: string;
  readonly who: AuditWho;
  readonly action: AuditAction;
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly versionId?: number;
  readonly patientId?: string;
  readonly where: AuditWhere;
  readonly purposeOfUse: string;
  readonly decision: AuditDecision;
  readonly outcome: AuditOutcome;
  /** Ids returned by a history or search page, so "who saw what" can be answered (ASTM E2147 7.1.9). */
  readonly returned?: readonly string[];
  /** Free-form, PHI-free details (e.g. the scopes of a minted token). */
  readonly detail?: Readonly<Record<string, string>>;
}

export function outcomeLabel(outcome: AuditOutcome): string {
  if (outcome.status < 400) return 'success';
  return outcome.status >= 500 ? 'error' : 'failure';
}
