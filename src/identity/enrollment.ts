import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import { type Database, findEnrollment, findUserById, markEnrollmentUsed, setUserPassword, type UserRow } from '../store/index.js';
import type { CredentialActor, CredentialAudit, CredentialContext } from './credential-audit.js';
import { credentialBody } from './credential-body.js';
import { commonPasswords } from './password-blocklist.js';
import type { PasswordHasher } from './password-hasher.js';
import { checkPassword, normalizePassword, REFUSAL_TEXT } from './password-policy.js';
import { enrollmentCodeHash, openProfile } from './user-profile.js';

export interface EnrollmentDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly audit: CredentialAudit;
  readonly hasher: PasswordHasher;
  readonly now: () => Date;
}

type Refusal = { readonly reason: 'unknown-code' | 'used' | 'expired' | 'already-enrolled' | 'deactivated'; readonly user?: UserRow };

const CODE = /^[A-Za-z0-9_-]{43}$/;

/**
 * `POST /auth/enroll`: an enrollment code, single-use and expiring, sets an invited account's
 * first password. Every refusal answers the same 400 (the reason is only in the audit entry); a
 * password the policy refuses leaves the code usable, so the person can choose another.
 */
export class Enrollment {
  readonly #deps: EnrollmentDeps;

  constructor(deps: EnrollmentDeps) {
    this.#deps = deps;
  }

  async redeem(ctx: CredentialContext, body: unknown): Promise<{ userId: string }> {
    const { db, keyring, audit, hasher, now } = this.#deps;
    const { code, password } = credentialBody(body, 'code');
    const codeHash = enrollmentCodeHash(code);
    const refuse = async (r: Refusal): Promise<never> => {
      await audit.record(ctx, {
        action: 'enroll',
        actor: r.user ? actorOf(r.user) : { kind: 'anonymous' },
        status: 400,
        code: 'WARD_ENROLLMENT_INVALID',
        detail: { reason: r.reason },
      });
      throw new WardError('WARD_ENROLLMENT_INVALID');
    };

    const found = CODE.test(code) ? await findEnrollment(db, codeHash) : undefined;
    const user = found ? await findUserById(db, found.userId) : undefined;
    if (!found || !user) return refuse({ reason: 'unknown-code' });
    const state = stateOf(found, user, now());
    if (state) return refuse({ reason: state, user });

    const normalized = normalizePassword(password);
    const refusal = checkPassword(normalized, { username: openProfile(keyring, user).username, blocklist: commonPasswords() });
    if (refusal) {
      await audit.record(ctx, {
        action: 'enroll',
        actor: actorOf(user),
        status: 400,
        code: 'WARD_PASSWORD_REJECTED',
        detail: { reason: `password-${refusal}` },
      });
      throw new WardError('WARD_PASSWORD_REJECTED', { details: [{ expression: 'password', diagnostics: REFUSAL_TEXT[refusal] }] });
    }
    const encoded = await hasher.hash(normalized);

    // Check again under the row lock: of two redemptions racing with one code, one wins.
    const raced = await db.transaction(async (tx) => {
      const locked = await findEnrollment(tx, codeHash, true);
      const current = await findUserById(tx, user.id, true);
      const late = locked && current ? stateOf(locked, current, now()) : 'unknown-code';
      if (late) return late;
      const at = now();
      await setUserPassword(tx, user.id, encoded, at);
      await markEnrollmentUsed(tx, codeHash, at);
      await audit.record(ctx, { action: 'enroll', actor: actorOf(user), status: 200, detail: { passwordSet: 'argon2id' } }, tx);
      return undefined;
    });
    if (raced) return refuse({ reason: raced, user });
    return { userId: user.id };
  }
}

function stateOf(e: { expiresAt: Date; usedAt: Date | null }, user: UserRow, now: Date): Refusal['reason'] | undefined {
  if (e.usedAt) return 'used';
  if (now.getTime() >= e.expiresAt.getTime()) return 'expired';
  if (user.status === 'deactivated') return 'deactivated';
  if (user.status !== 'invited') return 'already-enrolled';
  return undefined;
}

export function actorOf(user: UserRow): CredentialActor {
  return { kind: 'account', userId: user.id, sub: user.fhirUser, userKind: user.kind, roles: user.roles };
}
