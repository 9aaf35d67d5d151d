import type { AuditAction, AuditEntry, AuditLog, RequestContext } from '../audit/index.js';
import type { Queryable } from '../store/index.js';

/** Who an authorization-server event is about: a client app (acting for itself or a user), or an operator. */
export type OAuthActor =
  | { readonly kind: 'client'; readonly clientId: string; readonly sub?: string; readonly claimed?: boolean }
  | { readonly kind: 'operator'; readonly id: string }
  | { readonly kind: 'anonymous' };

export interface OAuthEvent {
  readonly action: Extract<
    AuditAction,
    | 'client-create'
    | 'client-suspend'
    | 'token-grant'
    | 'token-denied'
    | 'token-introspect'
    | 'token-revoke'
    | 'authorize'
    | 'oauth-request'
    | 'consent'
    | 'launch-create'
    | 'app-list'
    | 'app-revoke'
  >;
  readonly actor: OAuthActor;
  readonly status: number;
  readonly code?: string;
  readonly scopes?: string;
  /** PHI-free: ids, grant types, error codes, token fingerprints — never a token, code or assertion. */
  readonly detail: Record<string, string>;
}

/**
 * Writes authorization-server and client-registry events to the audit log (invariant 2: every
 * token grant, refresh and denial, with the client id; 170.315(d)(2)). Registry changes commit
 * with their entry (`tx`); token events are durable before the response leaves.
 */
export class OAuthAudit {
  readonly #audit: AuditLog;
  readonly #now: () => Date;

  constructor(audit: AuditLog, now: () => Date) {
    this.#audit = audit;
    this.#now = now;
  }

  async record(ctx: RequestContext, event: OAuthEvent, tx?: Queryable): Promise<void> {
    const entry = entryOf(this.#now(), ctx, event);
    if (tx) await this.#audit.recordIn(tx, entry);
    else await this.#audit.record(entry);
    ctx.audited = true;
  }
}

function entryOf(time: Date, ctx: RequestContext, event: OAuthEvent): AuditEntry {
  const a = event.actor;
  const who: AuditEntry['who'] =
    a.kind === 'client'
      ? {
          id: a.sub ?? (a.claimed ? 'anonymous' : 'system'),
          kind: a.sub ? (a.sub.startsWith('Patient/') ? 'patient' : 'user') : a.claimed ? 'anonymous' : 'system',
          roles: [],
          clientId: a.clientId,
          ...(event.scopes ? { scopes: event.scopes } : {}),
        }
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
    // A client id that failed to authenticate is only claimed: the detail says so.
    detail: { ...(a.kind === 'client' && a.claimed ? { clientIdClaimed: 'true' } : {}), ...event.detail },
  };
}
