import { randomBytes, randomUUID } from 'node:crypto';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import { isRole, type Role, SEPARATION_TEXT, separationRefusal } from '../policy/index.js';
import {
  changePrivileges,
  clearThrottle,
  type Database,
  deactivateUser,
  deleteArtifactsOfAccount,
  findUserByUsernameIndex,
  insertEnrollment,
  insertUser,
  markPasswordCompromised,
  type Queryable,
  readThrottle,
  type UserKind,
  UsernameTakenError,
  type UserRow,
} from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import type { Sessions } from './sessions.js';
import { auditUsernameHash, enrollmentCodeHash, sealProfile, usernameIndex } from './user-profile.js';
import { checkUsername, foldUsername } from './usernames.js';

export const DEFAULT_ENROLLMENT_TTL_SECONDS = 72 * 3600;
const MAX_ENROLLMENT_TTL_SECONDS = 30 * 24 * 3600;
/** Roles that only a patient account (or, later, a proxy or a service) holds. */
export const NON_WORKFORCE_ROLES: readonly Role[] = ['patient', 'proxy', 'system', 'purge'];
const PRACTITIONER = /^Practitioner\/[A-Za-z0-9\-.]{1,64}$/;
const ORGANIZATION = /^Organization\/[A-Za-z0-9\-.]{1,64}$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export interface CreateUserRequest {
  readonly username: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly organization?: string;
  /** A workforce user's `Practitioner/<id>`. */
  readonly practitioner?: string;
  /** A patient user's Patient id. */
  readonly patient?: string;
  readonly enrollmentTtlSeconds?: number;
}

export interface CreatedUser {
  readonly id: string;
  readonly kind: UserKind;
  readonly fhirUser: string;
  readonly roles: readonly string[];
  /** The single-use enrollment code: shown once, stored only as its SHA-256 digest. */
  readonly enrollmentCode: string;
  readonly enrollmentExpiresAt: Date;
}

export interface AccountsDeps {
  readonly db: Database;
  readonly sessions: Sessions;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly now: () => Date;
}

/**
 * Accounts (164.312(a)(2)(i): unique user identification). An id is a random UUID and an account
 * is never deleted, so an id is never reissued; a username, case-folded, belongs to one account
 * for good. Creating and deactivating are operator actions, each audited in the same transaction.
 */
export class Accounts {
  readonly #deps: AccountsDeps;

  constructor(deps: AccountsDeps) {
    this.#deps = deps;
  }

  async create(operatorId: string, ctx: CredentialContext, request: CreateUserRequest): Promise<CreatedUser> {
    const { db, keyring, audit, now } = this.#deps;
    const actor = { kind: 'operator', id: operatorId } as const;
    try {
      const plan = planAccount(request);
      const id = randomUUID();
      const fhirUser = plan.fhirUser ?? `User/${id}`;
      const code = randomBytes(32).toString('base64url');
      const createdAt = now();
      const expiresAt = new Date(createdAt.getTime() + (request.enrollmentTtlSeconds ?? DEFAULT_ENROLLMENT_TTL_SECONDS) * 1000);
      const box = sealProfile(keyring, id, { username: plan.username, name: plan.name });
      await db.transaction(async (tx) => {
        await insertUser(tx, {
          id,
          usernameIndex: usernameIndex(keyring, plan.username),
          kind: plan.kind,
          roles: plan.roles,
          fhirUser,
          organization: request.organization ?? null,
          profileKeyId: box.keyId,
          profileIv: box.iv,
          profile: box.ciphertext,
          status: 'invited',
          createdAt,
        });
        await insertEnrollment(tx, { codeHash: enrollmentCodeHash(code), userId: id, createdAt, expiresAt });
        // Failures counted against this username before the account existed (anyone may try any
        // name) must not lock or slow its new owner out.
        await clearThrottle(tx, usernameIndex(keyring, plan.username));
        await audit.record(
          ctx,
          {
            action: 'user-create',
            actor,
            status: 201,
            detail: {
              userId: id,
              kind: plan.kind,
              fhirUser,
              roles: plan.roles.join(' '),
              ...(request.organization ? { organization: request.organization } : {}),
              enrollmentExpires: expiresAt.toISOString(),
            },
          },
          tx,
        );
      });
      return { id, kind: plan.kind, fhirUser, roles: plan.roles, enrollmentCode: code, enrollmentExpiresAt: expiresAt };
    } catch (e) {
      const error = e instanceof UsernameTakenError ? new WardError('WARD_USERNAME_TAKEN', { cause: e }) : e;
      if (error instanceof WardError) {
        await audit.record(ctx, { action: 'user-create', actor, status: error.status, code: error.code, detail: {} });
      }
      throw error;
    }
  }

  /**
   * Deactivates an account at once: from this commit on its logins are refused, its web
   * sessions are revoked, and its tokens stop on their next use — the authorization server's
   * (their look-up joins the account's status) and Ward's own login tokens (LoginTokenAccounts)
   * ([NPRM] 164.308 termination).
   */
  async deactivate(operatorId: string, ctx: CredentialContext, username: string): Promise<{ id: string }> {
    return this.#onAccount(operatorId, ctx, username, 'user-deactivate', async (tx, user) => {
      if (user.status !== 'deactivated') await deactivateUser(tx, user.id, this.#deps.now());
      const revoked = await this.#deps.sessions.revokeAll(user.id, 'deactivated', tx);
      return { previousStatus: user.status, sessionsRevoked: String(revoked) };
    });
  }

  /**
   * Marks a workforce account's password compromised (NIST SP 800-63B-4 §3.1.1.2: a change is
   * forced on evidence of compromise). In one transaction with its audit entry and its ledger row:
   * every web session ends (the revocation deactivation uses), and everything the authorization
   * server holds for the account — grants, access and refresh tokens, its sign-in session — is
   * deleted, so a token or cookie taken with the password is worth nothing from this commit on.
   * The next web login (password and second factor) may only change the password; the
   * authorization server refuses the account until then. A patient account is refused: its
   * password is its only factor, so whoever holds the leaked password could make the change.
   */
  markCompromised(operatorId: string, ctx: CredentialContext, username: string): Promise<{ id: string }> {
    return this.#onAccount(operatorId, ctx, username, 'password-compromised', async (tx, user) => {
      if (user.kind !== 'workforce')
        throw invalid('Only a workforce account can be made to change its password: a patient account has no second factor to prove it');
      if (user.status !== 'active') throw invalid('The account has no password in use (invited or deactivated)');
      await markPasswordCompromised(tx, { userId: user.id, actor: operatorId, roles: user.roles, at: this.#deps.now() });
      const sessions = await this.#deps.sessions.revokeAll(user.id, 'password-compromised', tx);
      const tokens = await deleteArtifactsOfAccount(tx, user.id);
      return {
        ...(user.passwordCompromisedAt ? { markedBefore: user.passwordCompromisedAt.toISOString() } : {}),
        sessionsRevoked: String(sessions),
        oauthArtifactsRevoked: String(tokens),
      };
    });
  }

  /**
   * Lifts a lock or back-off: the consecutive-failure count of the account's username goes back to
   * zero (NIST SP 800-63B-4 §3.2.2 leaves recovery to the operator; audited like every change).
   */
  async unlock(operatorId: string, ctx: CredentialContext, username: string): Promise<{ id: string }> {
    return this.#onAccount(operatorId, ctx, username, 'account-unlock', async (tx, user) => {
      const index = usernameIndex(this.#deps.keyring, foldUsername(username));
      const before = await readThrottle(tx, index);
      await clearThrottle(tx, index);
      return { userId: user.id, failuresBefore: String(before?.failures ?? 0) };
    });
  }

  /**
   * Grants one role (170.210(e)(1): every privilege change audited with actor, target and roles
   * before and after). The account's sessions end at once, so the new roles take effect on a
   * fresh login and a revoked privilege is not kept by a session that is already open.
   */
  grantRole(operatorId: string, ctx: CredentialContext, username: string, role: string): Promise<{ id: string }> {
    return this.#changeRoles(operatorId, ctx, username, 'role-grant', (roles) => {
      if (!isRole(role)) throw invalid(`Unknown role: ${role}`);
      if (roles.includes(role)) throw invalid('The account already holds that role');
      return [...roles, role];
    });
  }

  revokeRole(operatorId: string, ctx: CredentialContext, username: string, role: string): Promise<{ id: string }> {
    return this.#changeRoles(operatorId, ctx, username, 'role-revoke', (roles) => {
      if (!roles.includes(role as Role)) throw invalid('The account does not hold that role');
      if (roles.length === 1) throw invalid('An account keeps at least one role; deactivate it instead');
      return roles.filter((r) => r !== role);
    });
  }

  /** Reactivates a deactivated account (audited; recorded in the privilege ledger). Its sessions ended when it was deactivated. */
  reactivate(operatorId: string, ctx: CredentialContext, username: string): Promise<{ id: string }> {
    return this.#onAccount(operatorId, ctx, username, 'user-reactivate', async (tx, user) => {
      if (user.status !== 'deactivated') throw invalid('The account is not deactivated');
      await changePrivileges(tx, {
        userId: user.id,
        actor: operatorId,
        change: 'reactivate',
        before: user.roles,
        after: user.roles,
        at: this.#deps.now(),
      });
      return { previousStatus: 'deactivated', roles: user.roles.join(' ') };
    });
  }

  #changeRoles(
    operatorId: string,
    ctx: CredentialContext,
    username: string,
    action: 'role-grant' | 'role-revoke',
    next: (roles: readonly Role[]) => readonly Role[],
  ): Promise<{ id: string }> {
    return this.#onAccount(operatorId, ctx, username, action, async (tx, user) => {
      if (user.kind !== 'workforce') throw invalid('Only workforce accounts have roles to change');
      const before = user.roles as readonly Role[];
      const after = next(before);
      if (after.some((r) => NON_WORKFORCE_ROLES.includes(r)))
        throw invalid('A workforce account cannot hold the roles patient, proxy, system or purge');
      const separation = separationRefusal(after);
      if (separation) throw invalid(SEPARATION_TEXT[separation]);
      const change = action === 'role-grant' ? 'grant-role' : 'revoke-role';
      await changePrivileges(tx, { userId: user.id, actor: operatorId, change, before, after, at: this.#deps.now() });
      const revoked = await this.#deps.sessions.revokeAll(user.id, 'role-change', tx);
      return { rolesBefore: before.join(' '), rolesAfter: after.join(' '), sessionsRevoked: String(revoked) };
    });
  }

  /** An operator's change to one account, in one transaction with its audit entry; 404 (audited) when none has the name. */
  async #onAccount(
    operatorId: string,
    ctx: CredentialContext,
    username: string,
    action: 'user-deactivate' | 'account-unlock' | 'role-grant' | 'role-revoke' | 'user-reactivate' | 'password-compromised',
    change: (tx: Queryable, user: UserRow) => Promise<Record<string, string>>,
  ): Promise<{ id: string }> {
    const { db, keyring, audit } = this.#deps;
    const actor = { kind: 'operator', id: operatorId } as const;
    const folded = foldUsername(username);
    let refused: { userId: string; error: WardError } | undefined;
    const result = await db
      .transaction(async (tx) => {
        const user = await findUserByUsernameIndex(tx, usernameIndex(keyring, folded), true);
        if (!user) return undefined;
        let detail: Record<string, string>;
        try {
          detail = await change(tx, user);
        } catch (e) {
          if (e instanceof WardError) refused = { userId: user.id, error: e };
          throw e;
        }
        await audit.record(ctx, { action, actor, status: 200, detail: { userId: user.id, ...detail } }, tx);
        return { id: user.id };
      })
      .catch(async (e: unknown) => {
        // A refused change is audited too (with the rule that refused it), after its rollback.
        if (refused && e === refused.error) {
          const reason = refused.error.details[0]?.diagnostics ?? refused.error.code;
          await audit.record(ctx, {
            action,
            actor,
            status: refused.error.status,
            code: refused.error.code,
            detail: { userId: refused.userId, reason },
          });
        }
        throw e;
      });
    if (!result) {
      await audit.record(ctx, {
        action,
        actor,
        status: 404,
        code: 'WARD_NOT_FOUND',
        detail: { usernameHash: auditUsernameHash(keyring, folded) },
      });
      throw new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No account has that username' }] });
    }
    return result;
  }
}

interface AccountPlan {
  readonly username: string;
  readonly name: string;
  readonly kind: UserKind;
  readonly roles: readonly Role[];
  readonly fhirUser?: string;
}

function invalid(diagnostics: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics }] });
}

/** Checks a create request and decides the account's kind, roles and FHIR user; pure. */
export function planAccount(r: CreateUserRequest): AccountPlan {
  const username = checkUsername(r.username);
  const name = r.name.normalize('NFKC').trim();
  if (name.length < 1 || name.length > 200) throw invalid('A display name has 1 to 200 characters');
  if (r.roles.length === 0) throw invalid('At least one role is required');
  for (const role of r.roles) if (!isRole(role)) throw invalid(`Unknown role: ${role}`);
  const roles = [...new Set(r.roles)] as Role[];
  if (r.organization !== undefined && !ORGANIZATION.test(r.organization)) throw invalid('--organization must be Organization/<id>');
  if (r.enrollmentTtlSeconds !== undefined) {
    const ttl = r.enrollmentTtlSeconds;
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > MAX_ENROLLMENT_TTL_SECONDS)
      throw invalid('An enrollment code lasts 1 minute to 30 days');
  }
  if (r.patient !== undefined) {
    if (r.practitioner !== undefined) throw invalid('An account links a Practitioner or a Patient, not both');
    if (!FHIR_ID.test(r.patient)) throw invalid('--patient must be a Patient id');
    if (roles.length !== 1 || roles[0] !== 'patient') throw invalid('A patient account has the role patient and no other');
    return { username, name, kind: 'patient', roles, fhirUser: `Patient/${r.patient}` };
  }
  if (roles.some((role) => NON_WORKFORCE_ROLES.includes(role))) {
    throw invalid('A workforce account cannot hold the roles patient, proxy, system or purge (a patient account needs --patient)');
  }
  if (r.practitioner !== undefined && !PRACTITIONER.test(r.practitioner)) throw invalid('--practitioner must be Practitioner/<id>');
  const separation = separationRefusal(roles);
  if (separation) throw invalid(SEPARATION_TEXT[separation]);
  return { username, name, kind: 'workforce', roles, ...(r.practitioner ? { fhirUser: r.practitioner } : {}) };
}
