import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import { kindOfSubject, type Principal, parseScopes } from '../policy/index.js';
import {
  type Database,
  findSession,
  findUserById,
  insertSession,
  listUserSessions,
  type Queryable,
  revokeSession,
  revokeSessionByHandle,
  revokeUserSessions,
  type SessionRow,
  type SessionState,
  type StepUpMethod,
  touchSession,
  type UserRow,
} from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';

/** Session lifetimes (NIST SP 800-63B-4 §2.2.3 / §2.3.3; ONC (d)(5) automatic access time-out). */
export interface SessionPolicy {
  readonly idleSeconds: number;
  readonly absoluteSeconds: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleSeconds: 15 * 60, absoluteSeconds: 12 * 3600 };
/** A session waiting for its second factor lasts this long, idle or not. */
export const PENDING_SESSION_SECONDS = 10 * 60;
/** Activity is written at most this often; a skipped write only makes the idle limit come sooner. */
const TOUCH_EVERY_MS = 15_000;
export const WEB_CLIENT_ID = 'ward-web';

/** What the browser gets for a new session: the id (cookie only), and the values it may show or send back. */
export interface IssuedSession {
  readonly id: string;
  readonly handle: string;
  readonly state: SessionState;
  readonly csrfToken: string;
  readonly expiresAt: Date;
  /** The cookie's Max-Age: the session's absolute lifetime. */
  readonly lifetimeSeconds: number;
  /** Set on a session issued by a step-up (ADR 0014). */
  readonly stepUp?: { readonly at: Date; readonly method: StepUpMethod };
  /** The account's password is marked compromised: this session may only change it (or log out). */
  readonly passwordChangeRequired?: true;
}

/** What a presented cookie resolved to. */
export interface CurrentSession {
  readonly row: SessionRow;
  readonly user: UserRow;
  readonly idHash: Buffer;
  readonly csrfToken: string;
  /** The account's password is marked compromised (read on every request): nothing but the change and logout is allowed. */
  readonly passwordChangeRequired: boolean;
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Server-side web sessions. The id is 256 random bits, sent only in the `__Host-ward_session`
 * cookie and stored only as its SHA-256, so a database reader cannot ride a session. The CSRF
 * token is a synchronizer token derived from the id (HMAC-SHA-256 under the blind-index key,
 * label `session-csrf`): bound to one session, unguessable without the key, never stored, and
 * it changes whenever the id does. A session's state never changes in place: a login, a second
 * factor or a re-login issues a new id and revokes the old (no fixation, NIST §5.1).
 */
export class Sessions {
  readonly #db: Database;
  readonly #audit: CredentialAudit;
  readonly #keyring: Keyring;
  readonly #policy: SessionPolicy;
  readonly #now: () => Date;

  constructor(deps: { db: Database; audit: CredentialAudit; keyring: Keyring; policy: SessionPolicy; now: () => Date }) {
    const { idleSeconds, absoluteSeconds } = deps.policy;
    // AAL2 bounds (800-63B-4 §2.2.3): at most 1 h idle and 24 h overall.
    if (idleSeconds < 60 || idleSeconds > 3600) throw new TypeError('the session idle limit must be between 1 and 60 minutes');
    if (absoluteSeconds < idleSeconds || absoluteSeconds > 24 * 3600)
      throw new TypeError('the session lifetime must be at least the idle limit and at most 24 hours');
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#keyring = deps.keyring;
    this.#policy = deps.policy;
    this.#now = deps.now;
  }

  get policy(): SessionPolicy {
    return this.#policy;
  }

  /** Starts a session in `state`; with `replacing`, the browser's previous session is revoked in the same transaction. */
  async start(
    tx: Queryable,
    user: UserRow,
    state: SessionState,
    address: string | undefined,
    replacing?: CurrentSession | string,
  ): Promise<IssuedSession> {
    const at = this.#now();
    if (replacing !== undefined) {
      const oldHash = typeof replacing === 'string' ? idHashOf(replacing) : replacing.idHash;
      if (oldHash) await revokeSession(tx, oldHash, at, 'rotated');
    }
    const id = randomBytes(32).toString('base64url');
    const handle = randomUUID();
    const lifetime = state === 'authenticated' ? this.#policy.absoluteSeconds : PENDING_SESSION_SECONDS;
    const expiresAt = new Date(at.getTime() + lifetime * 1000);
    await insertSession(tx, { idHash: sha256(id), handle, userId: user.id, state, at, expiresAt, address: address ?? null });
    const changeRequired = state === 'authenticated' && user.passwordCompromisedAt !== null;
    return {
      id,
      handle,
      state,
      csrfToken: this.#csrfOf(id),
      expiresAt,
      lifetimeSeconds: lifetime,
      ...(changeRequired ? { passwordChangeRequired: true as const } : {}),
    };
  }

  /**
   * The live session a cookie names, in one of `states`, or 401. Live means: known, not revoked,
   * inside its absolute lifetime and its idle limit, and its account active. A state-changing
   * method must carry the session's CSRF token (403 otherwise, before anything runs). While the
   * account's password is marked compromised, the session answers 403 WARD_PASSWORD_CHANGE_REQUIRED
   * unless the caller is one of the few that say `passwordChange: 'allowed'` (the change itself,
   * logout, the session's own status) — fail closed for every route added later.
   */
  async current(
    cookieId: string | undefined,
    request: { method: string; csrfHeader: string | undefined; activity?: boolean; passwordChange?: 'allowed' },
    states: readonly SessionState[],
    q: Queryable = this.#db,
  ): Promise<CurrentSession> {
    const idHash = cookieId ? idHashOf(cookieId) : undefined;
    if (!cookieId || !idHash) throw new WardError('WARD_UNAUTHENTICATED');
    const row = await findSession(q, idHash);
    const now = this.#now();
    if (!row || row.revokedAt || !states.includes(row.state) || !this.#live(row, now)) throw new WardError('WARD_UNAUTHENTICATED');
    const user = await findUserById(q, row.userId);
    if (user?.status !== 'active') throw new WardError('WARD_UNAUTHENTICATED');
    const csrfToken = this.#csrfOf(cookieId);
    if (!SAFE_METHODS.has(request.method.toUpperCase()) && !sameToken(request.csrfHeader, csrfToken)) {
      throw new WardError('WARD_CSRF_FAILED');
    }
    // A status poll (activity: false) must not keep an unattended session alive (ONC (d)(5)).
    // The pending steps of a login are limited to the second factor already; the mark restricts what a signed-in session may do.
    const passwordChangeRequired = row.state === 'authenticated' && user.passwordCompromisedAt !== null;
    if (passwordChangeRequired && request.passwordChange !== 'allowed') throw new WardError('WARD_PASSWORD_CHANGE_REQUIRED');
    if (request.activity !== false && now.getTime() - row.lastSeenAt.getTime() >= TOUCH_EVERY_MS) await touchSession(q, idHash, now);
    return { row, user, idHash, csrfToken, passwordChangeRequired };
  }

  /** The principal an authenticated session acts as: the account's FHIR user and roles, no more. */
  principalOf(session: CurrentSession): Principal {
    const { user, row } = session;
    return {
      id: user.fhirUser,
      kind: kindOfSubject(user.fhirUser),
      roles: user.roles as Principal['roles'],
      scopes: parseScopes(user.kind === 'patient' ? 'patient/*.rs' : 'user/*.cruds'),
      ...(user.kind === 'patient' ? { patient: user.fhirUser.slice('Patient/'.length) } : {}),
      // The account's organization gives the unit relationship (ADR 0009), as a login token's claim does.
      ...(user.organization ? { organizations: [user.organization] } : {}),
      clientId: WEB_CLIENT_ID,
      tokenId: `session:${row.handle}`,
      purposeOfUse: 'TREAT',
      session: { handle: row.handle, ...(row.stepUp ? { stepUp: row.stepUp } : {}) },
    };
  }

  /**
   * Replaces an authenticated session by one stamped with a step-up (ADR 0014): new id, new CSRF
   * token, the same absolute end (a step-up never lengthens a session). Raising what a session
   * may do rotates its id like every other step, so a copy of the old cookie gains nothing. If a
   * concurrent request already replaced the session, this one fails rather than fork it.
   */
  async stepUp(tx: Queryable, current: CurrentSession, method: StepUpMethod, address: string | undefined): Promise<IssuedSession> {
    const at = this.#now();
    if (current.row.state !== 'authenticated' || !(await revokeSession(tx, current.idHash, at, 'stepped-up')))
      throw new WardError('WARD_UNAUTHENTICATED');
    const id = randomBytes(32).toString('base64url');
    const handle = randomUUID();
    const expiresAt = current.row.expiresAt;
    await insertSession(tx, {
      idHash: sha256(id),
      handle,
      userId: current.user.id,
      state: 'authenticated',
      at,
      expiresAt,
      address: address ?? null,
      stepUp: { at, method },
    });
    const lifetimeSeconds = Math.max(0, Math.floor((expiresAt.getTime() - at.getTime()) / 1000));
    return { id, handle, state: 'authenticated', csrfToken: this.#csrfOf(id), expiresAt, lifetimeSeconds, stepUp: { at, method } };
  }

  /** When the session ends if nothing happens, and when it ends regardless. */
  limitsOf(row: SessionRow): { idleExpiresAt: Date; expiresAt: Date } {
    const idle = row.state === 'authenticated' ? this.#policy.idleSeconds : PENDING_SESSION_SECONDS;
    const idleExpiresAt = new Date(Math.min(row.lastSeenAt.getTime() + idle * 1000, row.expiresAt.getTime()));
    return { idleExpiresAt, expiresAt: row.expiresAt };
  }

  async list(userId: string, q: Queryable = this.#db): Promise<SessionRow[]> {
    const now = this.#now();
    return (await listUserSessions(q, userId, now)).filter((s) => s.state === 'authenticated' && this.#live(s, now));
  }

  revoke(idHash: Buffer, reason: string, q: Queryable = this.#db): Promise<boolean> {
    return revokeSession(q, idHash, this.#now(), reason);
  }

  revokeByHandle(userId: string, handle: string, reason: string, q: Queryable = this.#db): Promise<boolean> {
    return revokeSessionByHandle(q, userId, handle, this.#now(), reason);
  }

  /** Ends every session of an account at once (deactivation, password or role change). */
  revokeAll(userId: string, reason: string, q: Queryable = this.#db): Promise<number> {
    return revokeUserSessions(q, userId, this.#now(), reason);
  }

  /** Logout: the session is revoked at once; its cookie is worth nothing from this commit on. */
  async logout(ctx: CredentialContext, session: CurrentSession): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await this.revoke(session.idHash, 'logout', tx);
      await this.#audit.record(
        ctx,
        { action: 'logout', actor: actorOf(session.user), status: 200, detail: { session: session.row.handle } },
        tx,
      );
    });
  }

  /** A user ends one of their own sessions (another browser, a lost device); 404 for a handle that is not theirs or not open. */
  async revokeOwn(ctx: CredentialContext, session: CurrentSession, handle: string): Promise<void> {
    const done = await this.#db.transaction(async (tx) => {
      const ok = /^[0-9a-f-]{36}$/.test(handle) && (await this.revokeByHandle(session.user.id, handle, 'revoked-by-user', tx));
      await this.#audit.record(
        ctx,
        {
          action: 'session-revoke',
          actor: actorOf(session.user),
          status: ok ? 200 : 404,
          ...(ok ? {} : { code: 'WARD_NOT_FOUND' }),
          detail: { session: ok ? handle : 'unknown' },
        },
        tx,
      );
      return ok;
    });
    if (!done) throw new WardError('WARD_NOT_FOUND');
  }

  #live(row: SessionRow, now: Date): boolean {
    const { idleExpiresAt, expiresAt } = this.limitsOf(row);
    return now.getTime() < idleExpiresAt.getTime() && now.getTime() < expiresAt.getTime();
  }

  #csrfOf(id: string): string {
    return this.#keyring.blindIndexer.hash('session-csrf', id).toString('base64url');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The stored key of a well-formed session id; undefined for anything else (never looked up). */
function idHashOf(id: string): Buffer | undefined {
  return SESSION_ID.test(id) ? sha256(id) : undefined;
}

function sameToken(presented: string | undefined, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
