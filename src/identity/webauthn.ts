import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import {
  advanceWebauthnCounter,
  consumeWebauthnChallenge,
  type Database,
  insertWebauthnChallenge,
  insertWebauthnCredential,
  listWebauthnCredentials,
  type Queryable,
  type UserRow,
} from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import type { CurrentSession } from './sessions.js';
import { openProfile } from './user-profile.js';

/** Where passkeys are bound: the host of WARD_BASE_URL (rpId) and its origin. */
export interface RelyingParty {
  readonly id: string;
  readonly origin: string;
}

/** A ceremony's challenge lives this long and is used once. */
const CHALLENGE_SECONDS = 5 * 60;
/** ES256 and EdDSA (COSE -7, -8): what security keys and platform passkeys offer. */
const ALGORITHMS = [-7, -8];

export interface WebauthnDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly relyingParty: RelyingParty;
  readonly now: () => Date;
}

/**
 * WebAuthn passkeys and security keys, the phishing-resistant option at AAL2 (NIST SP
 * 800-63B-4 §2.2.2), through @simplewebauthn/server. User verification is required; an assertion
 * is checked against Ward's own origin and rpId, so one made for another site is refused; each
 * challenge is bound to the session that asked for it and spent once. Registration needs an
 * authenticated session (the account already passed two factors); authentication is the second
 * factor of a login, taken through SecondFactor like TOTP (throttle, rotation, audit).
 */
export class Webauthn {
  readonly #deps: WebauthnDeps;

  constructor(deps: WebauthnDeps) {
    this.#deps = deps;
  }

  async registrationOptions(session: CurrentSession): Promise<unknown> {
    const { db, keyring, relyingParty } = this.#deps;
    const { user } = session;
    const existing = await listWebauthnCredentials(db, user.id);
    const options = await generateRegistrationOptions({
      rpName: 'Ward',
      rpID: relyingParty.id,
      userName: openProfile(keyring, user).username,
      userID: new TextEncoder().encode(user.id),
      attestationType: 'none',
      supportedAlgorithmIDs: ALGORITHMS,
      authenticatorSelection: { userVerification: 'required', residentKey: 'preferred' },
      excludeCredentials: existing.map((c) => ({ id: c.credentialId })),
    });
    await this.#remember(session, options.challenge, 'register');
    return options;
  }

  async register(ctx: CredentialContext, session: CurrentSession, body: unknown): Promise<{ credentialId: string }> {
    const { db, audit, relyingParty, now } = this.#deps;
    const { user } = session;
    const response = responseOf<RegistrationResponseJSON>(body);
    // A refused response still spends its challenge: the transaction commits either way.
    const outcome = await db.transaction(async (tx) => {
      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await verifyRegistrationResponse({
          response,
          expectedChallenge: (challenge) => this.#spend(tx, session, challenge, 'register'),
          expectedOrigin: relyingParty.origin,
          expectedRPID: relyingParty.id,
          requireUserVerification: true,
          supportedAlgorithmIDs: ALGORITHMS,
        });
      } catch {
        return undefined;
      }
      if (!verified.verified) return undefined;
      const { credential } = verified.registrationInfo;
      await insertWebauthnCredential(tx, {
        credentialId: credential.id,
        userId: user.id,
        publicKey: Buffer.from(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? [],
        at: now(),
      });
      await audit.record(
        ctx,
        { action: 'mfa-enroll', actor: actorOf(user), status: 201, detail: { factor: 'webauthn', credential: credential.id.slice(0, 16) } },
        tx,
      );
      return { credentialId: credential.id };
    });
    if (outcome) return outcome;
    await audit.record(ctx, {
      action: 'mfa-enroll',
      actor: actorOf(user),
      status: 401,
      code: 'WARD_MFA_FAILED',
      detail: { factor: 'webauthn', reason: 'registration-not-verified' },
    });
    throw new WardError('WARD_MFA_FAILED');
  }

  async authenticationOptions(session: CurrentSession): Promise<unknown> {
    const { db, relyingParty } = this.#deps;
    const credentials = await listWebauthnCredentials(db, session.user.id);
    if (credentials.length === 0) throw new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No security key is registered' }] });
    const options = await generateAuthenticationOptions({
      rpID: relyingParty.id,
      userVerification: 'required',
      allowCredentials: credentials.map((c) => ({ id: c.credentialId })),
    });
    await this.#remember(session, options.challenge, 'authenticate');
    return options;
  }

  /** Checks an assertion in `tx`: challenge spent, signature and flags verified, counter advanced. */
  async check(tx: Queryable, session: CurrentSession, user: UserRow, body: unknown): Promise<boolean> {
    const { relyingParty, now } = this.#deps;
    const response = responseOf<AuthenticationResponseJSON>(body);
    const stored = (await listWebauthnCredentials(tx, user.id)).find((c) => c.credentialId === response.id);
    if (!stored) return false;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge: (challenge) => this.#spend(tx, session, challenge, 'authenticate'),
        expectedOrigin: relyingParty.origin,
        expectedRPID: relyingParty.id,
        requireUserVerification: true,
        credential: { id: stored.credentialId, publicKey: new Uint8Array(stored.publicKey), counter: stored.counter },
      });
      return (
        result.verified &&
        (await advanceWebauthnCounter(tx, stored.credentialId, stored.counter, result.authenticationInfo.newCounter, now()))
      );
    } catch {
      return false;
    }
  }

  async #remember(session: CurrentSession, challenge: string, purpose: 'register' | 'authenticate'): Promise<void> {
    const at = this.#deps.now();
    await insertWebauthnChallenge(this.#deps.db, {
      challenge,
      sessionHash: session.idHash,
      purpose,
      at,
      expiresAt: new Date(at.getTime() + CHALLENGE_SECONDS * 1000),
    });
  }

  #spend(tx: Queryable, session: CurrentSession, challenge: string, purpose: 'register' | 'authenticate'): Promise<boolean> {
    return consumeWebauthnChallenge(tx, { challenge, sessionHash: session.idHash, purpose, at: this.#deps.now() });
  }
}

function responseOf<T>(body: unknown): T {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || typeof b.id !== 'string' || typeof b.response !== 'object' || b.response === null) {
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: 'The body must be a WebAuthn credential response (JSON)' }] });
  }
  return b as T;
}
