import type { AuditAction, AuditEntry, AuditLog, RequestContext } from '../audit/index.js';
import type { Queryable } from '../store/index.js';

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
    | 'logout'
    | 'session-revoke'
    | 'role-grant'
    | 'role-revoke'
    | 'user-reactivate'
    | 'password-change'
  >;
  readonly actor: CredentialActor;
  readonly status: number;
  readonly code?: string;
  /** PHI-free: ids, reasons, keyed hashes — never a password, a code or a typed username. */
  readonly detail: Record<string, string>;
}

/**
 * Writes credential events to the audit log (invariant 2: every login, failed login and account
 * change is audited). Identity sits beside the vault, not above it, so it appends through the
 * same AuditLog seam: `record` for events on their own, `recordIn` inside the transaction that
 * changes the account, so the change and its entry commit together.
 */
export class CredentialAudit {
  readonly #audit: AuditLog;
  readonly #now: () => Date;

  constructor(audit: AuditLog, now: () => Date) {
    this.#audit = audit;
    this.#now = now;
  }

  async record(ctx: CredentialContext, event: CredentialEvent, tx?: Queryable): Promise<void> {
    const entry = entryOf(this.#now(), ctx, event);
    if (tx) await this.#audit.recordIn(tx, entry);
    else await this.#audit.record(entry);
    ctx.audited = true;
  }
}

function entryOf(time: Date, ctx: CredentialContext, event: CredentialEvent): AuditEntry {
  const a = event.actor;
  const who: AuditEntry['who'] =
    a.kind === 'account'
      ? { id: a.sub, kind: a.userKind === 'patient' ? 'patient' : 'user', roles: a.roles }
      : a.kind === 'operator'
        ? { id: a.id, kind: 'operator', roles: [] }
        : { id: 'anonymous', kind: 'anonymous', roles: [] };
  return {
    time: time.toISOString(),
    who,
    action: event.action,
    where: {
      requestId: ctx.requestId,
      listener: ctx.listener,
      ...(ctx.address ? { address: ctx.address } : {}),
      ...(ctx.userAgent ? { userAgent: ctx.userAgent.slice(0, 256) } : {}),
      ...(ctx.method ? { method: ctx.method } : {}),
      ...(ctx.route ? { route: ctx.route } : {}),
    },
    purposeOfUse: 'none',
    decision: { effect: 'none', reasons: [] },
    outcome: { status: event.status, ...(event.code ? { code: event.code } : {}) },
    // The account is named by its id in the detail: `User` is not a FHIR resource type.
    detail: { ...(a.kind === 'account' ? { userId: a.userId } : {}), ...event.detail },
  };
}
