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
  /** `$purge`: a resource and its whole history removed by the purge role (how many versions in the detail; never content). */
  'purge',
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
  /** `ward audit archive`: a partition exported with its proofs and dropped (or the attempt refused). */
  'audit-archive',
  /** `ward audit partitions`: the owner created the coming months' audit partitions. */
  'audit-partitions',
  /** A privacy officer signed off a review of the activity records of a period (164.308(a)(1)(ii)(D)). */
  'audit-review',
  /** An attempt to change audit status or configuration: there is no such switch, so it is always refused. */
  'audit-configure',
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
  /** An operator or admin registered a client application (its id, ceiling and state in the detail). */
  'client-create',
  /** A client application was suspended: its tokens stop working at once. */
  'client-suspend',
  /** An operator or admin approved a pending client (or was refused: unknown or suspended). */
  'client-approve',
  /** The authorization server issued tokens (a grant or a refresh); the client id is in `who`. */
  'token-grant',
  /** The authorization server refused a token request; the client id (claimed or known) is in `who`. */
  'token-denied',
  /** A registered client introspected a token (RFC 7662). */
  'token-introspect',
  /** A client revoked a token (RFC 7009). */
  'token-revoke',
  /** A transaction Bundle: committed (entry count), or refused naming the failing entry and its code. */
  'transaction',
  /** A batch Bundle: how many entries it held and how many failed (each entry has its own entry). */
  'batch',
  /** `ward import` ran over files (counts and rate in the detail; each resource written has its own entry). */
  'import',
  /** `ward reindex` recomputed search-index rows (type, counts; never values). */
  'reindex',
  /** A workforce password was verified; the session now waits for a second factor (or its enrollment). */
  'mfa-challenge',
  /** A TOTP secret was issued or confirmed (with its recovery codes), or the confirmation was refused. */
  'mfa-enroll',
  /** A second factor (TOTP or recovery code) was refused or throttled. */
  'mfa-failed',
  /** A one-time recovery code was spent as the second factor (how many remain is in the detail). */
  'recovery-code-used',
  /** A signed-in user proved a second factor again for sensitive operations (ADR 0014), or the try was refused. */
  'step-up',
  /** A web session was ended by its user. */
  'logout',
  /** A user revoked one of their own sessions. */
  'session-revoke',
  /** An operator granted a role (roles before and after are in the detail). */
  'role-grant',
  /** An operator revoked a role (roles before and after are in the detail). */
  'role-revoke',
  /** An operator reactivated a deactivated account. */
  'user-reactivate',
  /** A system administrator listed the accounts (ids, usernames, roles, state) or the registered clients, or was refused. */
  'account-list',
  'client-list',
  /** A user changed their password (every session of the account revoked), or the change was refused. */
  'password-change',
  /** An operator marked an account's password compromised: its sessions and tokens end, its next login must change it. */
  'password-compromised',
  /** The compliance report (170.315(d)(13): where MFA is used) was produced, or refused. */
  'compliance-report',
  /** A request to the authorization endpoint: its outcome (code, interaction or error) with the client id. */
  'authorize',
  /** Another request to the authorization server that was refused (userinfo, end-session, an unknown path). */
  'oauth-request',
  /** A user approved or denied an app's access on the consent page (the scopes granted in the detail). */
  'consent',
  /** A signed-in workforce user opened an app from Ward (EHR launch): a single-use launch id was issued. */
  'launch-create',
  /** A patient listed the apps connected to their record. */
  'app-list',
  /** A patient revoked an app's access: its grant, access and refresh tokens are gone. */
  'app-revoke',
  /** A privacy officer asked why the policy permits or denies a principal an action (no data returned). */
  'policy-explain',
  /** A clinician was granted (or refused) time-boxed emergency access to a patient; privacy officers are alerted. */
  'break-glass',
  /** A privacy officer acknowledged or escalated a break-glass grant. */
  'break-glass-review',
  /** A system administrator changed (or tried to change) an organization's policy override: a configuration change. */
  'policy-override',
  /** An organization's policy override (current version or history) was read. */
  'policy-override-read',
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
