import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import { changeUserPassword, clearThrottle, type Database, readThrottle, reserveAttempt } from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import { accountThrottle } from './login-throttle.js';
import { commonPasswords } from './password-blocklist.js';
import type { PasswordHasher } from './password-hasher.js';
import { checkPassword, codePointLength, normalizePassword, PASSWORD_MAX_LENGTH, REFUSAL_TEXT } from './password-policy.js';
import type { CurrentSession, IssuedSession, Sessions } from './sessions.js';
import { openProfile } from './user-profile.js';

export interface PasswordChangeDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly hasher: PasswordHasher;
  readonly sessions: Sessions;
  readonly now: () => Date;
}

export type PasswordChangeResult =
  | { readonly kind: 'ok'; readonly session: IssuedSession; readonly sessionsRevoked: number }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

/**
 * `POST /auth/password`: an authenticated user changes their password. The current password is
 * checked like a login (counted in the throttle first), the new one against the whole policy
 * (NIST SP 800-63B-4 §3.1.1.2: the blocklist applies on change too), and on success every session
 * of the account ends at once; this browser gets a new one.
 */
export class PasswordChange {
  readonly #deps: PasswordChangeDeps;

  constructor(deps: PasswordChangeDeps) {
    this.#deps = deps;
  }

  async change(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<PasswordChangeResult> {
    const { db, keyring, audit, hasher, sessions, now } = this.#deps;
    const { user } = session;
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const current = b.current_password;
    const next = b.new_password;
    if (typeof current !== 'string' || typeof next !== 'string' || current.length > 4096 || next.length > 4096) {
      throw new WardError('WARD_INVALID_REQUEST', {
        details: [{ diagnostics: 'The body must be {"current_password": string, "new_password": string}' }],
      });
    }
    const refuse = (status: number, code: string, reason: string) =>
      audit.record(ctx, { action: 'password-change', actor: actorOf(user), status, code, detail: { reason } });

    const state = await readThrottle(db, user.usernameIndex);
    const decision = accountThrottle(state, now());
    if (decision.kind === 'wait') {
      await refuse(429, 'WARD_LOGIN_THROTTLED', 'backing-off');
      return { kind: 'throttled', retryAfterSeconds: decision.retryAfterSeconds };
    }
    const prior = state?.failures ?? 0;
    if (decision.kind === 'locked' || !(await reserveAttempt(db, user.usernameIndex, prior, now()))) {
      await refuse(429, 'WARD_LOGIN_THROTTLED', decision.kind === 'locked' ? 'locked' : 'concurrent-attempt');
      return { kind: 'throttled', retryAfterSeconds: 1 };
    }
    const normalizedCurrent = normalizePassword(current);
    const right =
      user.passwordHash !== null &&
      codePointLength(normalizedCurrent) <= PASSWORD_MAX_LENGTH &&
      (await hasher.verify(user.passwordHash, normalizedCurrent));
    if (!right) {
      await refuse(401, 'WARD_LOGIN_FAILED', 'wrong-current-password');
      throw new WardError('WARD_LOGIN_FAILED');
    }
    const normalized = normalizePassword(next);
    // The same password again is no change — least of all when it is the one marked compromised (§3.1.1.2).
    const refusal =
      normalized === normalizedCurrent
        ? 'unchanged'
        : checkPassword(normalized, { username: openProfile(keyring, user).username, blocklist: commonPasswords() });
    if (refusal) {
      await clearThrottle(db, user.usernameIndex);
      await refuse(400, 'WARD_PASSWORD_REJECTED', `password-${refusal}`);
      throw new WardError('WARD_PASSWORD_REJECTED', { details: [{ expression: 'new_password', diagnostics: REFUSAL_TEXT[refusal] }] });
    }
    const encoded = await hasher.hash(normalized);
    return db.transaction(async (tx) => {
      await changeUserPassword(tx, user.id, encoded, now());
      await clearThrottle(tx, user.usernameIndex);
      const revoked = await sessions.revokeAll(user.id, 'password-change', tx);
      // The new password lifts a compromise mark (changeUserPassword), so the new session is a full one.
      const issued = await sessions.start(tx, { ...user, passwordCompromisedAt: null }, 'authenticated', ctx.address);
      await audit.record(
        ctx,
        {
          action: 'password-change',
          actor: actorOf(user),
          status: 200,
          detail: {
            sessionsRevoked: String(revoked),
            session: issued.handle,
            ...(session.passwordChangeRequired ? { forced: 'password-compromised' } : {}),
          },
        },
        tx,
      );
      return { kind: 'ok' as const, session: issued, sessionsRevoked: revoked };
    });
  }
}
