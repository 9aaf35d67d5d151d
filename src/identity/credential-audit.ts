import type { AuditAction, AuditEntry, AuditLog, RequestContext } from '../audit/index.js';
import type { Queryable } from '../store/index.js';
import { IdentityEventLog } from './identity-event-log.js';

/** Where a credential event came from: the same context every audited call carries. */
export type CredentialContext = RequestContext;

/** Who a credential event is about: an account (by its ids, never its username), an operator, or nobody known. */
export type CredentialActor =
  | {
      readonly kind: 'account';
      readonly userId: string;
      readonly sub: string;
      readonly userKind: 'workforce' | 'patient';
      readonly roles: readonly string[];
    }
  | { readonly kind: 'operator'; readonly id: string }
  | { readonly kind: 'anonymous' };

export interface CredentialEvent {
  readonly action: Extract<
    AuditAction,
    | 'login'
    | 'login-failed'
    | 'account-locked'
    | 'account-unlock'
    | 'user-create'
    | 'user-deactivate'
    | 'enroll'
    | 'mfa-challenge'
    | 'mfa-enroll'
    | 'mfa-failed'
    | 'recovery-code-used'
    | 'step-up'
    | 'logout'
    | 'session-revoke'
    | 'role-grant'
    | 'role-revoke'
    | 'user-reactivate'
    | 'password-change'
    | 'password-compromised'
    | 'compliance-report'
  >;
  readonly actor: CredentialActor;
  readonly status: number;
  readonly code?: string;
  /** PHI-free: ids, reasons, keyed hashes — never a password, a code or a typed username. */
  readonly detail: Record<string, string>;
}

/**
 * Writes credential events to the audit log (invariant 2: every login, failed login and account
 * change is audited): `record` for events on their own, with `tx` inside the transaction that
 * changes the account.
 */
export class CredentialAudit {
  readonly #log: IdentityEventLog;

  constructor(audit: AuditLog, now: () => Date) {
    this.#log = new IdentityEventLog(audit, now);
  }

  record(ctx: CredentialContext, event: CredentialEvent, tx?: Queryable): Promise<void> {
    const a = event.actor;
    const who: AuditEntry['who'] =
      a.kind === 'account'
        ? { id: a.sub, kind: a.userKind === 'patient' ? 'patient' : 'user', roles: a.roles }
        : a.kind === 'operator'
          ? { id: a.id, kind: 'operator', roles: [] }
          : { id: 'anonymous', kind: 'anonymous', roles: [] };
    // The account is named by its id in the detail: `User` is not a FHIR resource type.
    const detail = { ...(a.kind === 'account' ? { userId: a.userId } : {}), ...event.detail };
    return this.#log.append(
      ctx,
      { who, action: event.action, status: event.status, ...(event.code ? { code: event.code } : {}), detail },
      tx,
    );
  }
}
