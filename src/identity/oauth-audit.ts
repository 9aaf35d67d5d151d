import type { AuditAction, AuditEntry, AuditLog, RequestContext } from '../audit/index.js';
import type { Queryable } from '../store/index.js';
import { IdentityEventLog } from './identity-event-log.js';

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
    | 'client-approve'
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
  readonly #log: IdentityEventLog;

  constructor(audit: AuditLog, now: () => Date) {
    this.#log = new IdentityEventLog(audit, now);
  }

  record(ctx: RequestContext, event: OAuthEvent, tx?: Queryable): Promise<void> {
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
    // A client id that failed to authenticate is only claimed: the detail says so.
    const detail = { ...(a.kind === 'client' && a.claimed ? { clientIdClaimed: 'true' } : {}), ...event.detail };
    return this.#log.append(
      ctx,
      { who, action: event.action, status: event.status, ...(event.code ? { code: event.code } : {}), detail },
      tx,
    );
  }
}
