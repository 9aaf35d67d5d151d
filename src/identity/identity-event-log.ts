import type { AuditAction, AuditEntry, AuditLog, RequestContext } from '../audit/index.js';
import type { Queryable } from '../store/index.js';

/** An identity event as the audit log stores it: who, what, the outcome and a PHI-free detail. */
export interface IdentityEntry {
  readonly who: AuditEntry['who'];
  readonly action: AuditAction;
  readonly status: number;
  readonly code?: string;
  readonly detail: Record<string, string>;
}

/**
 * Appends identity events (credentials, sessions, the authorization server, the client registry)
 * to the audit log. Identity sits beside the vault, not above it, so it appends through the same
 * AuditLog seam: on its own, or inside the transaction that changes an account or a client, so
 * the change and its entry commit together.
 */
export class IdentityEventLog {
  readonly #audit: AuditLog;
  readonly #now: () => Date;

  constructor(audit: AuditLog, now: () => Date) {
    this.#audit = audit;
    this.#now = now;
  }

  async append(ctx: RequestContext, event: IdentityEntry, tx?: Queryable): Promise<void> {
    const entry = entryOf(this.#now(), ctx, event);
    if (tx) await this.#audit.recordIn(tx, entry);
    else await this.#audit.record(entry);
    ctx.audited = true;
  }
}

function entryOf(time: Date, ctx: RequestContext, event: IdentityEntry): AuditEntry {
  return {
    time: time.toISOString(),
    who: event.who,
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
    detail: event.detail,
  };
}
