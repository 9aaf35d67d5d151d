import type { AuditAction, AuditLog, RequestContext } from '../audit/index.js';
import type { Keyring } from '../crypto/index.js';
import { isPlainObject, WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { type ClientRow, type Database, findUserById, listClients, listUsers, type UserRow } from '../store/index.js';
import { parseTtl, TokenRequestError } from './access-tokens.js';
import type { Accounts } from './accounts.js';
import { adminRefusal } from './admin-gate.js';
import type { ClientRegistry } from './clients.js';
import { IdentityEventLog } from './identity-event-log.js';
import { openProfile } from './user-profile.js';

/** The most rows a list answers (the count says whether there were more). */
export const ADMIN_LIST_LIMIT = 1000;
const ACCOUNT_ID = /^[A-Za-z0-9-]{1,64}$/;

export interface AdminApiDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: AuditLog;
  readonly accounts: Accounts;
  readonly clients: ClientRegistry;
  readonly now: () => Date;
  /** How long a step-up counts (WARD_STEP_UP_MINUTES). */
  readonly stepUpSeconds: number;
  readonly baseUrl: string;
}

/** An account as the admin API shows it: what `ward user create` prints, and the state. No name, no PHI. */
export interface AdminUserView {
  readonly id: string;
  readonly username: string;
  readonly kind: string;
  readonly roles: readonly string[];
  readonly status: string;
  readonly fhirUser: string;
  readonly organization?: string;
  readonly passwordCompromised?: boolean;
}

export interface AdminUserCreated extends AdminUserView {
  /** Shown once, as `ward user create` shows it; stored only as its digest. */
  readonly enrollmentCode: string;
  readonly enrollmentLink: string;
  readonly enrollmentExpiresAt: string;
}

export interface AdminClientView {
  readonly clientId: string;
  readonly name: string;
  readonly owner: string;
  readonly purpose: string;
  readonly scopeCeiling: string;
  readonly tokenEndpointAuthMethod: string;
  readonly keys: 'inline jwks' | 'jwks_uri' | 'none';
  readonly state: string;
  readonly createdAt: string;
  readonly stateChangedAt: string;
  readonly lastUsedAt?: string;
}

type AccountChange = 'user-deactivate' | 'user-reactivate' | 'password-compromised';

/**
 * The HTTP admin API for accounts and client apps (issue 5): the same Accounts and ClientRegistry
 * calls `ward user …` and `ward client …` make — so the same checks, the same transaction, the
 * same audit entries and privilege-ledger rows — behind the admin gate (system-admin alone, from
 * a web session with a fresh step-up). The administrator's id is the operator id those calls
 * record. A refusal before the call (the gate, an unknown account, a malformed body) is audited
 * under the action the call would have written, naming the caller.
 */
export class AdminApi {
  readonly #deps: AdminApiDeps;
  readonly #log: IdentityEventLog;

  constructor(deps: AdminApiDeps) {
    this.#deps = deps;
    this.#log = new IdentityEventLog(deps.audit, deps.now);
  }

  /** `POST /admin/users`: an invited account and its single-use enrollment code (201). */
  createUser(principal: Principal, ctx: RequestContext, body: unknown): Promise<AdminUserCreated> {
    return this.#run(principal, ctx, 'user-create', async () => {
      const b = objectOf(body);
      let ttl: number | undefined;
      try {
        ttl = b.expires === undefined ? undefined : parseTtl(text(b.expires, 'expires'));
      } catch (e) {
        if (e instanceof TokenRequestError) throw invalid('expires must look like 72h, 30m or 3600s');
        throw e;
      }
      const roles = b.roles;
      if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) throw invalid('roles is a list of role names');
      const created = await this.#deps.accounts.create(principal.id, ctx, {
        username: text(b.username, 'username'),
        name: text(b.name, 'name'),
        roles: roles as string[],
        ...(b.organization !== undefined ? { organization: text(b.organization, 'organization') } : {}),
        ...(b.practitioner !== undefined ? { practitioner: text(b.practitioner, 'practitioner') } : {}),
        ...(b.patient !== undefined ? { patient: text(b.patient, 'patient') } : {}),
        ...(ttl !== undefined ? { enrollmentTtlSeconds: ttl } : {}),
      });
      const view = await this.#view(created.id);
      return {
        ...view,
        enrollmentCode: created.enrollmentCode,
        enrollmentLink: `${this.#deps.baseUrl}/enroll#code=${created.enrollmentCode}`,
        enrollmentExpiresAt: created.enrollmentExpiresAt.toISOString(),
      };
    });
  }

  /** `GET /admin/users`: every account's id, username, kind, roles and state (no display name). */
  listUsers(principal: Principal, ctx: RequestContext): Promise<{ users: AdminUserView[]; truncated: boolean }> {
    return this.#run(principal, ctx, 'account-list', async () => {
      const rows = await listUsers(this.#deps.db, ADMIN_LIST_LIMIT + 1);
      const users = rows.slice(0, ADMIN_LIST_LIMIT).map((u) => this.#viewOf(u));
      await this.#log.append(ctx, { who: whoOf(principal), action: 'account-list', status: 200, detail: { count: String(users.length) } });
      return { users, truncated: rows.length > ADMIN_LIST_LIMIT };
    });
  }

  /** `POST /admin/users/{id}/deactivate | reactivate | mark-compromised`. */
  changeAccount(principal: Principal, ctx: RequestContext, id: string, action: AccountChange): Promise<AdminUserView> {
    return this.#run(principal, ctx, action, async () => {
      const username = await this.#usernameOf(id);
      const accounts = this.#deps.accounts;
      const run = {
        'user-deactivate': () => accounts.deactivate(principal.id, ctx, username),
        'user-reactivate': () => accounts.reactivate(principal.id, ctx, username),
        'password-compromised': () => accounts.markCompromised(principal.id, ctx, username),
      }[action];
      await run();
      return this.#view(id);
    });
  }

  /** `POST /admin/users/{id}/roles` `{"role"}` and `DELETE /admin/users/{id}/roles/{role}`. */
  changeRole(
    principal: Principal,
    ctx: RequestContext,
    id: string,
    action: 'role-grant' | 'role-revoke',
    role: unknown,
  ): Promise<AdminUserView> {
    return this.#run(principal, ctx, action, async () => {
      const username = await this.#usernameOf(id);
      const name = text(role, 'role');
      if (action === 'role-grant') await this.#deps.accounts.grantRole(principal.id, ctx, username, name);
      else await this.#deps.accounts.revokeRole(principal.id, ctx, username, name);
      return this.#view(id);
    });
  }

  /**
   * `POST /admin/clients`: a backend (or public) client, approved at once as by `ward client create`
   * (201), or with `"state": "pending"` held for review (`ward client create --pending`).
   */
  createClient(principal: Principal, ctx: RequestContext, body: unknown): Promise<AdminClientView & { tokenEndpoint: string }> {
    return this.#run(principal, ctx, 'client-create', async () => {
      const b = objectOf(body);
      const redirectUris = b.redirectUris;
      if (redirectUris !== undefined && (!Array.isArray(redirectUris) || !redirectUris.every((u) => typeof u === 'string')))
        throw invalid('redirectUris is a list of URLs');
      // The JWKS may come as the JSON object itself or as its text (what the CLI reads from its file).
      const jwks = b.jwks === undefined ? undefined : typeof b.jwks === 'string' ? b.jwks : JSON.stringify(b.jwks);
      if (b.state !== undefined && b.state !== 'approved' && b.state !== 'pending') throw invalid('state is "approved" or "pending"');
      const row = await this.#deps.clients.register(principal.id, ctx, {
        name: text(b.name, 'name'),
        owner: b.owner === undefined ? principal.id : text(b.owner, 'owner'),
        scope: text(b.scope, 'scope'),
        ...(b.purpose !== undefined ? { purpose: text(b.purpose, 'purpose') } : {}),
        ...(jwks !== undefined ? { jwks } : {}),
        ...(b.jwksUri !== undefined ? { jwksUri: text(b.jwksUri, 'jwksUri') } : {}),
        ...(redirectUris !== undefined ? { redirectUris: redirectUris as string[] } : {}),
        state: b.state === 'pending' ? 'pending' : 'approved',
      });
      return { ...clientView(row), tokenEndpoint: `${this.#deps.baseUrl}/oauth/token` };
    });
  }

  /** `POST /admin/clients/{id}/suspend`: its tokens stop now and it gets no new ones. */
  suspendClient(principal: Principal, ctx: RequestContext, clientId: string): Promise<AdminClientView & { revoked: number }> {
    return this.#run(principal, ctx, 'client-suspend', async () => {
      const { revoked } = await this.#deps.clients.suspend(principal.id, ctx, clientId);
      const row = await this.#deps.clients.find(clientId);
      if (!row) throw new WardError('WARD_NOT_FOUND');
      return { ...clientView(row), revoked };
    });
  }

  /** `POST /admin/clients/{id}/approve`: a pending client may get tokens from now on (`ward client approve`). */
  approveClient(principal: Principal, ctx: RequestContext, clientId: string): Promise<AdminClientView & { previousState: string }> {
    return this.#run(principal, ctx, 'client-approve', async () => {
      const { previousState } = await this.#deps.clients.approve(principal.id, ctx, clientId);
      const row = await this.#deps.clients.find(clientId);
      if (!row) throw new WardError('WARD_NOT_FOUND');
      return { ...clientView(row), previousState };
    });
  }

  /** `GET /admin/clients`: the registry (public keys are not repeated; the method and source are). */
  listClients(principal: Principal, ctx: RequestContext): Promise<{ clients: AdminClientView[]; truncated: boolean }> {
    return this.#run(principal, ctx, 'client-list', async () => {
      const rows = await listClients(this.#deps.db, ADMIN_LIST_LIMIT + 1);
      const clients = rows.slice(0, ADMIN_LIST_LIMIT).map(clientView);
      await this.#log.append(ctx, { who: whoOf(principal), action: 'client-list', status: 200, detail: { count: String(clients.length) } });
      return { clients, truncated: rows.length > ADMIN_LIST_LIMIT };
    });
  }

  /**
   * The gate, then the call. A refusal the call has not audited itself (the gate, an unknown
   * account, a malformed body) is audited here under the call's action, after any rollback.
   */
  async #run<T>(principal: Principal, ctx: RequestContext, action: AuditAction, call: () => Promise<T>): Promise<T> {
    const refusal = adminRefusal(principal, this.#deps.now(), this.#deps.stepUpSeconds);
    if (refusal) {
      await this.#refuse(principal, ctx, action, refusal.error, refusal.detail);
      throw refusal.error;
    }
    try {
      return await call();
    } catch (e) {
      // A server-side failure (5xx) is left to the edge, which audits it or answers 503.
      if (e instanceof WardError && e.status < 500 && !ctx.audited) {
        const reason = e.details[0]?.diagnostics;
        await this.#refuse(principal, ctx, action, e, reason ? { reason } : {});
      }
      throw e;
    }
  }

  #refuse(principal: Principal, ctx: RequestContext, action: AuditAction, error: WardError, detail: Record<string, string>) {
    return this.#log.append(ctx, { who: whoOf(principal), action, status: error.status, code: error.code, detail });
  }

  /** The account's username, which the account calls take (as the CLI's do); 404 when no account has the id. */
  async #usernameOf(id: string): Promise<string> {
    const user = ACCOUNT_ID.test(id) ? await findUserById(this.#deps.db, id) : undefined;
    if (!user) throw new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No account has that id' }] });
    return openProfile(this.#deps.keyring, user).username;
  }

  async #view(id: string): Promise<AdminUserView> {
    const user = await findUserById(this.#deps.db, id);
    if (!user) throw new WardError('WARD_NOT_FOUND');
    return this.#viewOf(user);
  }

  #viewOf(u: UserRow): AdminUserView {
    return {
      id: u.id,
      username: openProfile(this.#deps.keyring, u).username,
      kind: u.kind,
      roles: u.roles,
      status: u.status,
      fhirUser: u.fhirUser,
      ...(u.organization ? { organization: u.organization } : {}),
      ...(u.passwordCompromisedAt ? { passwordCompromised: true } : {}),
    };
  }
}

function clientView(c: ClientRow): AdminClientView {
  return {
    clientId: c.clientId,
    name: c.name,
    owner: c.owner,
    purpose: c.purpose,
    scopeCeiling: c.scopeCeiling,
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    keys: c.jwksUri ? 'jwks_uri' : c.jwks ? 'inline jwks' : 'none',
    state: c.state,
    createdAt: c.createdAt.toISOString(),
    stateChangedAt: c.stateChangedAt.toISOString(),
    ...(c.lastUsedAt ? { lastUsedAt: c.lastUsedAt.toISOString() } : {}),
  };
}

function whoOf(p: Principal) {
  return { id: p.id, kind: p.kind, roles: p.roles, ...(p.clientId ? { clientId: p.clientId } : {}) };
}

function invalid(diagnostics: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics }] });
}

function objectOf(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw invalid('The body is a JSON object');
  return body;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} is a string`);
  return value;
}
