import { randomBytes } from 'node:crypto';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import {
  clearThrottle,
  type Database,
  findTotp,
  findUserById,
  findUserByUsernameIndex,
  readThrottle,
  reserveAttempt,
  type UserRow,
} from '../store/index.js';
import { type AccessTokens, tokenFingerprint } from './access-tokens.js';
import type { CredentialActor, CredentialAudit, CredentialContext } from './credential-audit.js';
import { credentialBody } from './credential-body.js';
import { actorOf } from './enrollment.js';
import { AddressThrottle, type AddressThrottleOptions, accountThrottle, LOCK_AFTER_FAILURES } from './login-throttle.js';
import type { PasswordHasher } from './password-hasher.js';
import { codePointLength, normalizePassword, PASSWORD_MAX_LENGTH } from './password-policy.js';
import type { IssuedSession, Sessions } from './sessions.js';
import { auditUsernameHash, usernameIndex } from './user-profile.js';
import { foldUsername, isValidUsername } from './usernames.js';

/** Access tokens issued at login are short-lived (issue 5: 15 minutes by default). */
export const LOGIN_TOKEN_TTL_SECONDS = 15 * 60;
export const LOGIN_CLIENT_ID = 'ward-login';

export type LoginResult =
  | { readonly kind: 'ok'; readonly accessToken: string; readonly expiresIn: number; readonly scope: string }
  /** A workforce password was right: the session may do nothing but present (or enroll) a second factor. */
  | { readonly kind: 'second-factor'; readonly state: 'mfa-required' | 'mfa-enrollment-required'; readonly session: IssuedSession }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

export type PasswordVerification =
  | { readonly kind: 'verified'; readonly user: UserRow }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

export interface PasswordLoginDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly hasher: PasswordHasher;
  readonly tokens: AccessTokens;
  readonly sessions: Sessions;
  readonly now: () => Date;
  readonly addressThrottle: AddressThrottleOptions;
}

/** Why a login was refused; recorded in the audit entry, never told to the client. */
type FailureReason = 'unknown-user' | 'wrong-password' | 'deactivated' | 'not-enrolled' | 'locked';

/**
 * `POST /auth/login`: username and password for a short-lived access token. Its steps, in order:
 * address throttle → account throttle → reserve the attempt → verify → issue or refuse. Unknown
 * username, wrong password, deactivated and locked accounts get the same 401 body, and each runs
 * one argon2id verification (an unknown username against a dummy hash with the same parameters),
 * so neither the answer nor its cost tells whether an account exists. Throttling counts by
 * username, known or not, for the same reason.
 */
export class PasswordLogin {
  readonly #deps: PasswordLoginDeps;
  readonly #addresses: AddressThrottle;
  #dummyHash: Promise<string> | undefined;

  constructor(deps: PasswordLoginDeps) {
    this.#deps = deps;
    this.#addresses = new AddressThrottle(deps.addressThrottle, deps.now);
    // Built now, not on first use, so the first unknown-user try costs what every other one does.
    void this.#dummy().catch(() => undefined);
  }

  /** An argon2id hash of a random password nobody knows, verified when there is no real hash to verify. */
  #dummy(): Promise<string> {
    this.#dummyHash ??= this.#deps.hasher.hash(randomBytes(32).toString('base64url'));
    return this.#dummyHash;
  }

  /**
   * `presentedSession` is the session cookie the browser sent, if any: whatever it was, it is
   * revoked when this login succeeds, so an id planted before login is worth nothing after it.
   */
  async login(ctx: CredentialContext, body: unknown, presentedSession?: string): Promise<LoginResult> {
    // A workforce password marked compromised still opens the way to the second factor here: the
    // session that follows may only change the password (Sessions.current).
    const verified = await this.#verify(ctx, body, 'to-change');
    if (verified.kind === 'throttled') return verified;
    const { user } = verified;
    // Every workforce login needs a second factor (170.315(d)(13)). Its try stays counted until the
    // second factor succeeds, so alternating a right password with code guesses never resets the count.
    if (user.kind === 'workforce') return this.#challenge(ctx, user, actorOf(user), presentedSession);
    return this.#issue(ctx, user, actorOf(user));
  }

  /**
   * Every step of a password login except what completes it: the authorization server's login
   * page calls it too, so its throttling, refusals and their audit entries are the same. On
   * success nothing is audited yet; the caller records the login it completes. A patient's
   * password completes the login, so their failure count clears here; a workforce account's
   * stays counted until its second factor succeeds.
   */
  verifyPassword(ctx: CredentialContext, body: unknown): Promise<PasswordVerification> {
    return this.#verify(ctx, body, 'refuse');
  }

  /**
   * `compromised`: what a right password marked compromised gets — refused (the authorization
   * server's login page, which would hand an app tokens), or let through `to-change` for a
   * workforce account, whose second factor then proves the change (NIST SP 800-63B-4 §3.1.1.2).
   */
  async #verify(ctx: CredentialContext, body: unknown, compromised: 'refuse' | 'to-change'): Promise<PasswordVerification> {
    const { db, keyring, audit, hasher, now } = this.#deps;
    const input = credentialBody(body, 'username');
    const folded = foldUsername(input.username);
    const index = usernameIndex(keyring, folded);
    const user = isValidUsername(folded) ? await findUserByUsernameIndex(db, index) : undefined;
    const actor: CredentialActor = user ? actorOf(user) : { kind: 'anonymous' };
    const who: Record<string, string> = user ? {} : { usernameHash: auditUsernameHash(keyring, folded) };
    const record: RecordFailure = (action, status, code, detail) =>
      audit.record(ctx, { action, actor, status, code, detail: { ...who, ...detail } });
    const refused = (status: number, code: string, detail: Record<string, string>) => record('login-failed', status, code, detail);

    const addressWait = this.#addresses.reserve(ctx.address);
    if (addressWait !== undefined) {
      await refused(429, 'WARD_LOGIN_THROTTLED', { reason: 'address-throttled' });
      return { kind: 'throttled', retryAfterSeconds: addressWait };
    }
    const state = await readThrottle(db, index);
    const decision = accountThrottle(state, now());
    if (decision.kind === 'wait') {
      // While backing off the password is not checked at all, right or wrong.
      await refused(429, 'WARD_LOGIN_THROTTLED', { reason: 'backing-off', failures: String(state?.failures ?? 0) });
      return { kind: 'throttled', retryAfterSeconds: decision.retryAfterSeconds };
    }
    if (decision.kind === 'locked') {
      await hasher.verify(await this.#dummy(), input.password);
      return this.#fail(record, 'locked', state?.failures ?? LOCK_AFTER_FAILURES, false);
    }
    const prior = state?.failures ?? 0;
    if (!(await reserveAttempt(db, index, prior, now()))) {
      // A concurrent try on the same username took this turn.
      await refused(429, 'WARD_LOGIN_THROTTLED', { reason: 'concurrent-attempt' });
      return { kind: 'throttled', retryAfterSeconds: 1 };
    }

    const password = normalizePassword(input.password);
    const usable = user?.status === 'active' && user.passwordHash !== null && codePointLength(password) <= PASSWORD_MAX_LENGTH;
    const matches = await hasher.verify(usable && user.passwordHash ? user.passwordHash : await this.#dummy(), password);
    if (!usable || !matches) return this.#fail(record, failureReason(user), prior + 1, true);

    // Deactivation takes effect at once: an account deactivated while its password was being
    // checked gets no token (read again now, after the slow hash).
    const fresh = await findUserById(db, user.id);
    if (fresh?.status !== 'active') return this.#fail(record, 'deactivated', prior + 1, true);
    if (fresh.passwordCompromisedAt !== null) {
      // Read after the slow hash too: a mark set meanwhile counts. Only a workforce account with a
      // second factor may go on to change it; the attempt stays counted until that factor succeeds.
      const enrolled = (await findTotp(db, fresh.id))?.confirmedAt != null;
      if (compromised === 'refuse' || fresh.kind !== 'workforce' || !enrolled) {
        const reason = compromised === 'refuse' ? 'password-compromised' : 'password-compromised-without-second-factor';
        await refused(403, 'WARD_PASSWORD_CHANGE_REQUIRED', { reason });
        throw new WardError('WARD_PASSWORD_CHANGE_REQUIRED');
      }
      this.#addresses.succeeded(ctx.address);
      return { kind: 'verified', user: fresh };
    }
    this.#addresses.succeeded(ctx.address);
    if (user.kind !== 'workforce') await clearThrottle(db, index);
    return { kind: 'verified', user };
  }

  async #challenge(ctx: CredentialContext, user: UserRow, actor: CredentialActor, presented: string | undefined): Promise<LoginResult> {
    const { db, audit, sessions } = this.#deps;
    const totp = await findTotp(db, user.id);
    const enrolled = totp?.confirmedAt != null;
    const session = await db.transaction(async (tx) => {
      const issued = await sessions.start(tx, user, enrolled ? 'mfa-pending' : 'mfa-enrollment', ctx.address, presented);
      await audit.record(
        ctx,
        {
          action: 'mfa-challenge',
          actor,
          status: 200,
          detail: {
            next: enrolled ? 'totp' : 'totp-enrollment',
            session: issued.handle,
            // A forced-change login: the session the second factor opens may only change the password.
            ...(user.passwordCompromisedAt ? { passwordChange: 'required' } : {}),
          },
        },
        tx,
      );
      return issued;
    });
    return { kind: 'second-factor', state: enrolled ? 'mfa-required' : 'mfa-enrollment-required', session };
  }

  async #fail(record: RecordFailure, reason: FailureReason, failures: number, counted: boolean): Promise<never> {
    await record('login-failed', 401, 'WARD_LOGIN_FAILED', { reason, failures: String(failures) });
    if (counted && failures === LOCK_AFTER_FAILURES) {
      // The lockout is its own event, so an auditor finds it without reading every failure (§3.2.2).
      await record('account-locked', 401, 'WARD_LOGIN_FAILED', { reason: 'consecutive-failure-limit', failures: String(failures) });
    }
    throw new WardError('WARD_LOGIN_FAILED');
  }

  async #issue(ctx: CredentialContext, user: UserRow, actor: CredentialActor): Promise<LoginResult> {
    const scope = user.kind === 'patient' ? 'patient/*.rs' : 'user/*.cruds';
    const minted = await this.#deps.tokens.mint({
      sub: user.fhirUser,
      roles: user.roles,
      scope,
      ttlSeconds: LOGIN_TOKEN_TTL_SECONDS,
      clientId: LOGIN_CLIENT_ID,
      // The bearer check looks the account up on every use, so deactivation stops this token at once.
      accountId: user.id,
      // The account's unit travels in the token: the policy's unit relationships read it (ADR 0009).
      ...(user.organization ? { organizations: [user.organization] } : {}),
    });
    // Durable before the token leaves (invariant 2); the entry names the token, never holds it.
    await this.#deps.audit.record(ctx, {
      action: 'login',
      actor,
      status: 200,
      detail: { jti: minted.jti, fingerprint: tokenFingerprint(minted.token), expires: minted.expiresAt.toISOString(), method: 'password' },
    });
    return { kind: 'ok', accessToken: minted.token, expiresIn: LOGIN_TOKEN_TTL_SECONDS, scope };
  }
}

type RecordFailure = (
  action: 'login-failed' | 'account-locked',
  status: number,
  code: string,
  detail: Record<string, string>,
) => Promise<void>;

function failureReason(user: UserRow | undefined): FailureReason {
  if (!user) return 'unknown-user';
  if (user.status === 'deactivated') return 'deactivated';
  if (user.status === 'invited' || user.passwordHash === null) return 'not-enrolled';
  return 'wrong-password';
}
