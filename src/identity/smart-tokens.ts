import type { JWK } from 'jose';
import type { Keyring } from '../crypto/index.js';
import { WardError } from '../fhir/index.js';
import { isRole, kindOfSubject, type Principal, parseScopes, type Role, ScopeSyntaxError } from '../policy/index.js';
import { type Database, findLiveAccessToken, touchClient } from '../store/index.js';
import type { AccessTokens } from './access-tokens.js';
import type { LoginTokenAccounts } from './login-token-accounts.js';
import { artifactKey, openArtifact } from './oauth-sealing.js';

/** oidc-provider's opaque tokens: 256 random bits, base64url, no dots (a JWT always has two). */
const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What the edge's bearer check needs: verify a token to a principal, and publish the public keys. */
export interface BearerVerifier {
  verify(token: string): Promise<Principal>;
  jwks(): Promise<{ keys: JWK[] }>;
}

const unauthenticated = () => new WardError('WARD_UNAUTHENTICATED');

/**
 * Access tokens issued by the authorization server are opaque and looked up on every request:
 * one indexed query by the token's keyed hash, joined with its client's approval state and its
 * user's account status. A suspended client's or a deactivated user's tokens therefore fail on
 * the very next request, on every instance, without a cache to invalidate (ADR 0013).
 */
export class SmartAccessTokens {
  readonly #db: Database;
  readonly #keyring: Keyring;
  readonly #now: () => Date;
  /** When this instance last wrote each client's last use (at most once a minute, not per request). */
  readonly #touched = new Map<string, number>();

  constructor(deps: { db: Database; keyring: Keyring; now: () => Date }) {
    this.#db = deps.db;
    this.#keyring = deps.keyring;
    this.#now = deps.now;
  }

  async verify(token: string): Promise<Principal> {
    if (!OPAQUE_TOKEN.test(token)) throw unauthenticated();
    const idHash = artifactKey(this.#keyring, token);
    const live = await findLiveAccessToken(this.#db, idHash);
    const now = this.#now();
    if (!live) throw unauthenticated();
    const { artifact } = live;
    if (!artifact.expiresAt || artifact.expiresAt.getTime() <= now.getTime()) throw unauthenticated();
    if (live.clientState !== 'approved') throw unauthenticated();
    if (artifact.accountId !== null && live.accountStatus !== 'active') throw unauthenticated();
    const payload = openArtifact(this.#keyring, artifact);
    const clientId = String(payload.clientId);
    const tokenId = `at:${idHash.toString('hex').slice(0, 16)}`;
    let scopes: Principal['scopes'];
    try {
      scopes = parseScopes(typeof payload.scope === 'string' ? payload.scope : '');
    } catch (e) {
      if (e instanceof ScopeSyntaxError) throw unauthenticated();
      throw e;
    }
    if ((this.#touched.get(clientId) ?? 0) < now.getTime() - 60_000) {
      this.#touched.set(clientId, now.getTime());
      await touchClient(this.#db, clientId, now);
    }
    if (artifact.kind === 'ClientCredentials') {
      return { id: 'system', kind: 'system', roles: ['system'], scopes, clientId, tokenId, purposeOfUse: 'TREAT' };
    }
    const sub = live.accountFhirUser;
    const roles = live.accountRoles.filter((r): r is Role => isRole(r));
    if (!sub || roles.length === 0) throw unauthenticated();
    const extra = (payload.extra ?? {}) as Record<string, unknown>;
    const kind = kindOfSubject(sub);
    const patient = kind === 'patient' ? sub.slice('Patient/'.length) : typeof extra.patient === 'string' ? extra.patient : undefined;
    return { id: sub, kind, roles, scopes, ...(patient ? { patient } : {}), clientId, tokenId, purposeOfUse: 'TREAT' };
  }
}

/** The edge's one bearer check: JWTs (operator and login tokens, the latter only while their account stands) and opaque SMART tokens. */
export function bearerVerifier(jwt: AccessTokens, opaque: SmartAccessTokens, accounts: LoginTokenAccounts): BearerVerifier {
  return {
    async verify(token) {
      if (!token.includes('.')) return opaque.verify(token);
      const principal = await jwt.verify(token);
      await accounts.check(token, principal);
      return principal;
    },
    jwks: () => jwt.jwks(),
  };
}
