import { decodeJwt } from 'jose';
import { WardError } from '../fhir/index.js';
import type { Principal } from '../policy/index.js';
import { type Database, findAccountStanding } from '../store/index.js';
import { LOGIN_CLIENT_ID } from './password-login.js';

/**
 * Ward's own login tokens (`POST /auth/login`, client `ward-login`) are JWTs, verified by
 * signature; on their own they would outlive a deactivation by up to their 15 minutes. Each
 * names its account (`ward_uid`), and every use looks the account up (one indexed read, as for
 * the authorization server's opaque tokens): a token works only while the account is active and
 * has had no role change or reactivation since the token was issued. So deactivation stops it at
 * once, on every instance, and a reactivation does not bring it back ([NPRM] 164.308 termination).
 * Operator tokens (`ward token create`) name no account and are not affected.
 */
export class LoginTokenAccounts {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Refuses (401) a login token whose account is gone, inactive, or changed since it was issued. */
  async check(token: string, principal: Principal): Promise<void> {
    if (principal.clientId !== LOGIN_CLIENT_ID) return;
    // The signature and claims were verified already; this only reads two of them.
    const { ward_uid: accountId, iat } = decodeJwt(token);
    if (typeof accountId !== 'string' || typeof iat !== 'number') throw new WardError('WARD_UNAUTHENTICATED');
    const standing = await findAccountStanding(this.#db, accountId);
    if (standing?.status !== 'active') throw new WardError('WARD_UNAUTHENTICATED');
    // `iat` has whole seconds: a token is older than the change only if issued in an earlier second.
    if (standing.changedAt && standing.changedAt.getTime() >= (iat + 1) * 1000) throw new WardError('WARD_UNAUTHENTICATED');
  }
}
