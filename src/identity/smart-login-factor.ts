import type { Keyring } from '../crypto/index.js';
import {
  type Database,
  deleteArtifact,
  findArtifact,
  findTotp,
  listWebauthnCredentials,
  type UserRow,
  upsertArtifact,
} from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import { artifactKey, openArtifact, sealArtifact } from './oauth-sealing.js';
import type { AppSignInResult, SecondFactor } from './second-factor.js';
import type { CurrentSession, Sessions } from './sessions.js';
import type { Webauthn } from './webauthn.js';

/** The second factors an account has enrolled (a confirmed TOTP secret, registered WebAuthn credentials). */
export interface EnrolledFactors {
  readonly totp: boolean;
  readonly webauthn: boolean;
}

/** What follows a correct password on the authorization server's login page. */
export type FactorPlan =
  /** A patient's password completes the sign-in (RFC 8176 `amr`: pwd). */
  | { readonly kind: 'complete'; readonly amr: readonly ['pwd'] }
  /** A workforce account proves a second factor: a TOTP code, a WebAuthn assertion, or either. */
  | { readonly kind: 'ask'; readonly factors: EnrolledFactors }
  /** A workforce account with no second factor yet: it enrolls in Ward's web app first. */
  | { readonly kind: 'refused'; readonly reason: 'second-factor-not-enrolled' };

/**
 * Every workforce sign-in needs a second factor (170.315(d)(13)); the login page never enrolls
 * one, because enrollment shows a secret that only an authenticated first login may see.
 */
export function factorPlan(user: Pick<UserRow, 'kind'>, enrolled: EnrolledFactors): FactorPlan {
  if (user.kind === 'patient') return { kind: 'complete', amr: ['pwd'] };
  if (!enrolled.totp && !enrolled.webauthn) return { kind: 'refused', reason: 'second-factor-not-enrolled' };
  return { kind: 'ask', factors: enrolled };
}

/** The login page's state between a correct password and its second factor. */
export interface PendingSignIn {
  readonly session: CurrentSession;
  readonly factors: EnrolledFactors;
}

const PENDING_KIND = 'WardPendingSignIn';

export interface SmartLoginFactorDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly sessions: Sessions;
  readonly secondFactor: SecondFactor;
  readonly webauthn: Webauthn;
}

/**
 * The second step of a workforce sign-in on the authorization server's login page. The password
 * step starts a pending session, exactly as `POST /auth/login` does, but its id never reaches the
 * browser: it is kept sealed in `ward_oauth_artifact`, found by a keyed hash of the interaction
 * uid, and the browser holds only oidc-provider's signed interaction cookie. The factor is then
 * checked by SecondFactor (throttle, TOTP replay refusal, WebAuthn challenge bound to the
 * pending session, audit), and success revokes the pending session. A deactivated account, an
 * expired (10 min) or used pending session all read as "no pending sign-in".
 */
export class SmartLoginFactor {
  readonly #deps: SmartLoginFactorDeps;

  constructor(deps: SmartLoginFactorDeps) {
    this.#deps = deps;
  }

  async plan(user: UserRow): Promise<FactorPlan> {
    if (user.kind === 'patient') return factorPlan(user, { totp: false, webauthn: false });
    const { db } = this.#deps;
    const totp = await findTotp(db, user.id);
    const keys = await listWebauthnCredentials(db, user.id);
    return factorPlan(user, { totp: totp?.confirmedAt != null, webauthn: keys.length > 0 });
  }

  /** After a correct workforce password: a pending session for this interaction (replacing an earlier one), audited as a challenge. */
  async begin(ctx: CredentialContext, user: UserRow, uid: string, factors: EnrolledFactors, clientId: string): Promise<void> {
    const { db, keyring, audit, sessions } = this.#deps;
    const idHash = this.#key(uid);
    const earlier = await this.#sessionIdOf(uid);
    await db.transaction(async (tx) => {
      const issued = await sessions.start(tx, user, 'mfa-pending', ctx.address, earlier);
      const box = sealArtifact(keyring, PENDING_KIND, idHash, { sessionId: issued.id, factors });
      await upsertArtifact(tx, {
        kind: PENDING_KIND,
        idHash,
        grantHash: null,
        uidHash: null,
        userCodeHash: null,
        clientId,
        accountId: user.id,
        keyId: box.keyId,
        iv: box.iv,
        payload: box.ciphertext,
        expiresAt: issued.expiresAt,
      });
      const next = [factors.totp ? 'totp' : '', factors.webauthn ? 'webauthn' : ''].filter(Boolean).join(' ');
      await audit.record(
        ctx,
        {
          action: 'mfa-challenge',
          actor: actorOf(user),
          status: 200,
          detail: { next, session: issued.handle, via: 'authorization-server', clientId },
        },
        tx,
      );
    });
  }

  /** The pending sign-in of this interaction, while its session lives and its account is active. */
  async pending(uid: string): Promise<PendingSignIn | undefined> {
    const row = await findArtifact(this.#deps.db, PENDING_KIND, this.#key(uid));
    if (!row) return undefined;
    const payload = openArtifact(this.#deps.keyring, row) as { sessionId?: unknown; factors?: EnrolledFactors };
    if (typeof payload.sessionId !== 'string' || !payload.factors) return undefined;
    try {
      // No CSRF token here: the form's own defences are the interaction cookie and the Origin check.
      const session = await this.#deps.sessions.current(payload.sessionId, { method: 'GET', csrfHeader: undefined, activity: false }, [
        'mfa-pending',
      ]);
      return { session, factors: payload.factors };
    } catch {
      return undefined;
    }
  }

  /** WebAuthn request options for the pending sign-in; the challenge is bound to its session and used once. */
  webauthnOptions(pending: PendingSignIn): Promise<unknown> {
    return this.#deps.webauthn.authenticationOptions(pending.session);
  }

  /** Checks the factor (a refusal throws WARD_MFA_FAILED, already audited and counted); success forgets the pending state. */
  async prove(
    ctx: CredentialContext,
    uid: string,
    pending: PendingSignIn,
    proof: { readonly code: string } | { readonly webauthn: unknown },
    clientId: string,
  ): Promise<AppSignInResult> {
    const result = await this.#deps.secondFactor.signInToApp(ctx, pending.session, proof, { via: 'authorization-server', clientId });
    if (result.kind === 'ok') await deleteArtifact(this.#deps.db, PENDING_KIND, this.#key(uid));
    return result;
  }

  async #sessionIdOf(uid: string): Promise<string | undefined> {
    const row = await findArtifact(this.#deps.db, PENDING_KIND, this.#key(uid));
    const id = row ? openArtifact(this.#deps.keyring, row).sessionId : undefined;
    return typeof id === 'string' ? id : undefined;
  }

  #key(uid: string): Buffer {
    return artifactKey(this.#deps.keyring, `pending-sign-in:${uid}`);
  }
}
