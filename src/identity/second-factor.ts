import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import {
  acceptTotpCounter,
  clearThrottle,
  countUnusedRecoveryCodes,
  type Database,
  findTotp,
  insertRecoveryCodes,
  putPendingTotp,
  type Queryable,
  readThrottle,
  reserveAttempt,
  type UserRow,
  useRecoveryCode,
} from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import { accountThrottle, LOCK_AFTER_FAILURES } from './login-throttle.js';
import type { CurrentSession, IssuedSession, Sessions } from './sessions.js';
import {
  matchTotp,
  newRecoveryCodes,
  newTotpSecret,
  openTotpSecret,
  RECOVERY_CODE_COUNT,
  recoveryCodeHash,
  sealTotpSecret,
  totpProvisioning,
} from './totp.js';
import { openProfile } from './user-profile.js';
import type { Webauthn } from './webauthn.js';

export interface SecondFactorDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly sessions: Sessions;
  readonly webauthn: Webauthn;
  readonly now: () => Date;
}

export type FactorResult =
  | { readonly kind: 'ok'; readonly session: IssuedSession; readonly recoveryCodes?: readonly string[] }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

/** A sign-in to an app on the authorization server's login page: which methods proved it (RFC 8176 `amr`). */
export type AppSignInResult =
  | { readonly kind: 'ok'; readonly amr: readonly ['pwd', 'otp'] | readonly ['pwd', 'hwk'] }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

type Proof =
  | { readonly kind: 'totp'; readonly code: string }
  | { readonly kind: 'recovery-code'; readonly code: string }
  | { readonly kind: 'webauthn'; readonly response: unknown };

/** Where a proof is presented: the first login's enrollment, a login, or a step-up on a signed-in session (ADR 0014). */
type Stage = 'enrollment' | 'login' | 'step-up';

type Attempt<T> =
  | { readonly kind: 'done'; readonly value: T; readonly recoveryCodes?: readonly string[] }
  | { readonly kind: 'throttled'; readonly retryAfterSeconds: number };

/**
 * The second factor of a workforce login (170.315(d)(13); NPRM 164.312 authentication): TOTP
 * enrollment at first login, then TOTP or a one-time recovery code at every login. Each step
 * takes a session in the state the previous step left, and success replaces that session by a
 * new one (new id, new CSRF token). A try counts against the account's login throttle before the
 * code is checked, exactly like a password, and the count clears only when the login completes.
 */
export class SecondFactor {
  readonly #deps: SecondFactorDeps;

  constructor(deps: SecondFactorDeps) {
    this.#deps = deps;
  }

  /** Issues a new TOTP secret for an account that has none confirmed; shown once, stored sealed. */
  async beginTotpEnrollment(ctx: CredentialContext, session: CurrentSession): Promise<{ secret: string; uri: string }> {
    const { db, keyring, audit, now } = this.#deps;
    const { user } = session;
    const secret = newTotpSecret();
    const box = sealTotpSecret(keyring, user.id, secret);
    await db.transaction(async (tx) => {
      await putPendingTotp(tx, { userId: user.id, keyId: box.keyId, iv: box.iv, secret: box.ciphertext, at: now() });
      await audit.record(
        ctx,
        { action: 'mfa-enroll', actor: actorOf(user), status: 200, detail: { factor: 'totp', step: 'secret-issued' } },
        tx,
      );
    });
    return totpProvisioning(secret, openProfile(keyring, user).username);
  }

  /** Confirms the new secret with a code from the app: the factor is on, ten recovery codes are shown once, the login completes. */
  async confirmTotpEnrollment(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<FactorResult> {
    const code = codeField(body, 'code');
    return this.#webLogin(ctx, session, { kind: 'totp', code }, 'enrollment');
  }

  /** A TOTP code or a recovery code for an account with TOTP on; success completes the login. */
  async verify(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<FactorResult> {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const proof: Proof =
      typeof b.recovery_code === 'string' && b.code === undefined
        ? { kind: 'recovery-code', code: codeField(body, 'recovery_code') }
        : { kind: 'totp', code: codeField(body, 'code') };
    return this.#webLogin(ctx, session, proof, 'login');
  }

  /** A WebAuthn assertion (passkey or security key) as the second factor of a login. */
  async verifyWebauthn(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<FactorResult> {
    return this.#webLogin(ctx, session, { kind: 'webauthn', response: body }, 'login');
  }

  /**
   * The second factor of a sign-in to an app on the authorization server's login page
   * (170.315(d)(13)): a TOTP code or a WebAuthn assertion, with the same throttle, replay
   * refusal and audit as a web login. `session` is the pending session the page's password step
   * started (never sent to the browser); success ends it instead of starting a web session, so
   * signing in to an app does not also sign the browser in to Ward.
   */
  async signInToApp(
    ctx: CredentialContext,
    session: CurrentSession,
    proof: { readonly code: string } | { readonly webauthn: unknown },
    detail: Record<string, string>,
  ): Promise<AppSignInResult> {
    const { audit, sessions } = this.#deps;
    const p: Proof = 'code' in proof ? { kind: 'totp', code: proof.code.slice(0, 64) } : { kind: 'webauthn', response: proof.webauthn };
    const amr = p.kind === 'totp' ? (['pwd', 'otp'] as const) : (['pwd', 'hwk'] as const);
    const result = await this.#attempt(ctx, session, p, 'login', async (tx) => {
      await sessions.revoke(session.idHash, 'signed-in-to-app', tx);
      await audit.record(
        ctx,
        {
          action: 'login',
          actor: actorOf(session.user),
          status: 200,
          detail: { method: `password+${p.kind}`, amr: amr.join(' '), ...detail },
        },
        tx,
      );
    });
    return result.kind === 'throttled' ? result : { kind: 'ok', amr };
  }

  /**
   * Step-up (ADR 0014): a signed-in user proves the second factor again — a fresh TOTP code
   * (replay refused as at login) or a WebAuthn assertion on a challenge this session asked for —
   * and the session is replaced by one stamped with the time and method. Recovery codes are for
   * getting back in, not for sensitive operations, and are refused. Counted in the account's
   * throttle like any other try; every outcome is audited as `step-up`.
   */
  async stepUp(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<FactorResult> {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    let proof: Proof;
    if (b.code === undefined && typeof b.id === 'string' && typeof b.response === 'object' && b.response !== null) {
      proof = { kind: 'webauthn', response: body };
    } else if (typeof b.code === 'string' && b.code.length <= 64) {
      proof = { kind: 'totp', code: b.code };
    } else {
      throw new WardError('WARD_INVALID_REQUEST', {
        details: [{ diagnostics: 'The body must be {"code": string} (TOTP) or a WebAuthn credential response' }],
      });
    }
    const { audit, sessions, now } = this.#deps;
    const result = await this.#attempt(ctx, session, proof, 'step-up', async (tx) => {
      const issued = await sessions.stepUp(tx, session, proof.kind === 'webauthn' ? 'webauthn' : 'totp', ctx.address);
      await audit.record(
        ctx,
        {
          action: 'step-up',
          actor: actorOf(session.user),
          status: 200,
          detail: { factor: proof.kind, stage: 'step-up', session: issued.handle, replaced: session.row.handle, at: now().toISOString() },
        },
        tx,
      );
      return issued;
    });
    return result.kind === 'throttled' ? result : { kind: 'ok', session: result.value };
  }

  /** A web login's second factor: success replaces the pending session by an authenticated one. */
  async #webLogin(ctx: CredentialContext, session: CurrentSession, proof: Proof, stage: 'enrollment' | 'login'): Promise<FactorResult> {
    const { audit, sessions } = this.#deps;
    const { user } = session;
    const result = await this.#attempt(ctx, session, proof, stage, async (tx) => {
      const issued = await sessions.start(tx, user, 'authenticated', ctx.address, session);
      await audit.record(
        ctx,
        {
          action: 'login',
          actor: actorOf(user),
          status: 200,
          detail: {
            method: `password+${proof.kind}`,
            session: issued.handle,
            expires: issued.expiresAt.toISOString(),
            ...(issued.passwordChangeRequired ? { passwordChange: 'required' } : {}),
          },
        },
        tx,
      );
      return issued;
    });
    if (result.kind === 'throttled') return result;
    return { kind: 'ok', session: result.value, ...(result.recoveryCodes ? { recoveryCodes: result.recoveryCodes } : {}) };
  }

  /**
   * Throttle → reserve the try → check and spend the proof → `complete` the login, all but the
   * throttle in one transaction; a refusal is audited and counted, and throws WARD_MFA_FAILED.
   */
  async #attempt<T>(
    ctx: CredentialContext,
    session: CurrentSession,
    proof: Proof,
    stage: Stage,
    complete: (tx: Queryable) => Promise<T>,
  ): Promise<Attempt<T>> {
    const { db, keyring, audit, now } = this.#deps;
    const { user } = session;
    const failed = (status: number, code: string, detail: Record<string, string>) =>
      audit.record(ctx, {
        action: stage === 'step-up' ? 'step-up' : 'mfa-failed',
        actor: actorOf(user),
        status,
        code,
        detail: { factor: proof.kind, stage, ...detail },
      });

    const state = await readThrottle(db, user.usernameIndex);
    const decision = accountThrottle(state, now());
    if (decision.kind === 'wait') {
      await failed(429, 'WARD_LOGIN_THROTTLED', { reason: 'backing-off', failures: String(state?.failures ?? 0) });
      return { kind: 'throttled', retryAfterSeconds: decision.retryAfterSeconds };
    }
    if (decision.kind === 'locked') {
      await failed(401, 'WARD_MFA_FAILED', { reason: 'locked', failures: String(state?.failures ?? LOCK_AFTER_FAILURES) });
      throw new WardError('WARD_MFA_FAILED');
    }
    const prior = state?.failures ?? 0;
    if (!(await reserveAttempt(db, user.usernameIndex, prior, now()))) {
      await failed(429, 'WARD_LOGIN_THROTTLED', { reason: 'concurrent-attempt' });
      return { kind: 'throttled', retryAfterSeconds: 1 };
    }

    const outcome = await db.transaction(async (tx) => {
      // stepUp() never builds a recovery-code proof; should one arrive, it is refused unspent, never taken for a login.
      if (stage === 'step-up' && proof.kind === 'recovery-code')
        return { kind: 'refused', reason: 'recovery-code-not-for-step-up' } as const;
      const accepted =
        proof.kind === 'webauthn'
          ? (await this.#deps.webauthn.check(tx, session, user, proof.response))
            ? ({ kind: 'accepted' } as const)
            : ({ kind: 'refused', reason: 'webauthn-not-verified' } as const)
          : await this.#check(tx, user, proof, stage);
      if (accepted.kind === 'refused') return accepted;
      let recoveryCodes: string[] | undefined;
      if (stage === 'enrollment') {
        recoveryCodes = newRecoveryCodes();
        await insertRecoveryCodes(
          tx,
          user.id,
          recoveryCodes.map((c) => recoveryCodeHash(keyring, user.id, c)),
          now(),
        );
        await audit.record(
          ctx,
          {
            action: 'mfa-enroll',
            actor: actorOf(user),
            status: 201,
            detail: { factor: 'totp', step: 'confirmed', recoveryCodes: String(RECOVERY_CODE_COUNT) },
          },
          tx,
        );
      }
      if (proof.kind === 'recovery-code') {
        const left = await countUnusedRecoveryCodes(tx, user.id);
        await audit.record(
          ctx,
          { action: 'recovery-code-used', actor: actorOf(user), status: 200, detail: { remaining: String(left) } },
          tx,
        );
      }
      await clearThrottle(tx, user.usernameIndex);
      const value = await complete(tx);
      return { kind: 'done' as const, value, ...(recoveryCodes ? { recoveryCodes } : {}) };
    });
    if (outcome.kind === 'done') return outcome;
    const failures = prior + 1;
    await failed(401, 'WARD_MFA_FAILED', { reason: outcome.reason, failures: String(failures) });
    if (failures === LOCK_AFTER_FAILURES) {
      await audit.record(ctx, {
        action: 'account-locked',
        actor: actorOf(user),
        status: 401,
        code: 'WARD_MFA_FAILED',
        detail: { reason: 'consecutive-failure-limit', failures: String(failures) },
      });
    }
    throw new WardError('WARD_MFA_FAILED');
  }

  /** Checks the proof and spends it (the TOTP step or the recovery code) in `tx`; a refusal says why, for the audit entry. */
  async #check(
    tx: Parameters<Parameters<Database['transaction']>[0]>[0],
    user: UserRow,
    proof: Exclude<Proof, { kind: 'webauthn' }>,
    stage: Stage,
  ): Promise<{ kind: 'accepted' } | { kind: 'refused'; reason: string }> {
    const { keyring, now } = this.#deps;
    if (proof.kind === 'recovery-code') {
      const used = await useRecoveryCode(tx, user.id, recoveryCodeHash(keyring, user.id, proof.code), now());
      return used ? { kind: 'accepted' } : { kind: 'refused', reason: 'unknown-or-used-recovery-code' };
    }
    const totp = await findTotp(tx, user.id);
    if (!totp || (stage === 'enrollment') !== (totp.confirmedAt === null)) return { kind: 'refused', reason: 'no-totp-in-this-state' };
    const secret = openTotpSecret(keyring, user.id, { keyId: totp.keyId, iv: totp.iv, ciphertext: totp.secret });
    const counter = matchTotp(secret, proof.code, now());
    if (counter === undefined) return { kind: 'refused', reason: 'wrong-code' };
    // Compare-and-set on the newest accepted step: a code already used (or an older one) is refused.
    const fresh = await acceptTotpCounter(tx, user.id, counter, stage === 'enrollment' ? now() : undefined);
    return fresh ? { kind: 'accepted' } : { kind: 'refused', reason: 'replayed-code' };
  }
}

function codeField(body: unknown, key: 'code' | 'recovery_code'): string {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[key] : undefined;
  if (typeof value !== 'string' || value.length > 64) {
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `The body must be {"${key}": string}` }] });
  }
  return value;
}
