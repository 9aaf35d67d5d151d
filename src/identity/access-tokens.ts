import { createHash, type KeyObject, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, type JWK, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { WardError } from '../fhir/index.js';
import {
  isRole,
  kindOfSubject,
  type Principal,
  parseScopes,
  type Role,
  ScopeSyntaxError,
  SEPARATION_TEXT,
  separationRefusal,
} from '../policy/index.js';

export const ACCESS_TOKEN_ALG = 'ES256';

export interface TokenKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export interface MintRequest {
  readonly sub: string;
  readonly roles: readonly string[];
  readonly scope: string;
  readonly patient?: string;
  readonly ttlSeconds: number;
  readonly clientId: string;
  readonly purposeOfUse?: string;
  /** Organization units the user belongs to (`Organization/<id>`), for unit relationships (ADR 0009). */
  readonly organizations?: readonly string[];
  /** The account a login token acts for (`ward_uid`): the bearer check ends it when the account is deactivated. */
  readonly accountId?: string;
}

export interface MintedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: Date;
}

export class TokenRequestError extends Error {
  override readonly name = 'TokenRequestError';
}

const VERIFIED_CACHE_SIZE = 10_000;

/** The exp claim of a token whose signature was already verified. */
function decodeExp(token: string): number | undefined {
  const exp = decodeJwt(token).exp;
  return typeof exp === 'number' ? exp : undefined;
}

const SUBJECT = /^(system|[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/;
const MAX_TTL_SECONDS = 24 * 3600;
const ORGANIZATION = /^Organization\/[A-Za-z0-9\-.]{1,64}$/;

/**
 * Access tokens: JWTs signed with ECDSA P-256 (ES256). The operator's `ward token create` mints
 * them now; the SMART authorization server will mint through the same issuer, and the edge
 * verifies both with `AccessTokens.verify`, so there is one verification path.
 */
export class AccessTokens {
  readonly #keys: TokenKeys;
  readonly #issuer: string;
  readonly #audience: string;
  readonly #now: () => Date;
  #kid: string | undefined;
  /**
   * Tokens already verified, by their exact text, until they expire. Verifying an ES256 signature
   * costs more than the rest of a read; a cache hit needs the identical token string, so a changed
   * byte is verified afresh. Revocation (the SMART issue) must also evict from here.
   */
  readonly #verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(keys: TokenKeys, options: { issuer: string; audience: string; now: () => Date }) {
    if (keys.privateKey.asymmetricKeyType !== 'ec') throw new TypeError('access-token key must be an EC P-256 key');
    this.#keys = keys;
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#now = options.now;
  }

  async #keyId(): Promise<string> {
    this.#kid ??= await calculateJwkThumbprint(await exportJWK(this.#keys.publicKey));
    return this.#kid;
  }

  /** The public JWKS (published at /.well-known/jwks.json). */
  async jwks(): Promise<{ keys: JWK[] }> {
    const jwk = await exportJWK(this.#keys.publicKey);
    return { keys: [{ ...jwk, kid: await this.#keyId(), alg: ACCESS_TOKEN_ALG, use: 'sig' }] };
  }

  async mint(request: MintRequest): Promise<MintedToken> {
    checkMintRequest(request);
    const jti = randomUUID();
    const now = Math.floor(this.#now().getTime() / 1000);
    const exp = now + request.ttlSeconds;
    // A patient's own token always carries their own compartment as its patient context.
    const patient = request.patient ?? (kindOfSubject(request.sub) === 'patient' ? request.sub.slice('Patient/'.length) : undefined);
    const claims: Record<string, unknown> = {
      scope: request.scope,
      ward_roles: request.roles,
      client_id: request.clientId,
      ...(request.sub.includes('/') ? { fhirUser: request.sub } : {}),
      ...(patient ? { patient } : {}),
      ...(request.purposeOfUse ? { purpose_of_use: request.purposeOfUse } : {}),
      ...(request.organizations?.length ? { ward_organizations: request.organizations } : {}),
      ...(request.accountId ? { ward_uid: request.accountId } : {}),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: 'at+jwt', kid: await this.#keyId() })
      .setIssuer(this.#issuer)
      .setAudience(this.#audience)
      .setSubject(request.sub)
      .setJti(jti)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .sign(this.#keys.privateKey);
    return { token, jti, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Verifies a bearer token and returns the principal it names. Any failure — bad signature,
   * wrong issuer or audience, expired, malformed claims — is the same 401 (164.312(d)).
   */
  async verify(token: string): Promise<Principal> {
    const nowMs = this.#now().getTime();
    const cached = this.#verified.get(token);
    if (cached && nowMs < cached.expiresAtMs) return cached.principal;
    if (cached) this.#verified.delete(token);
    const principal = await this.#verifySignatureAndClaims(token);
    this.#remember(token, principal);
    return principal;
  }

  #remember(token: string, principal: Principal): void {
    const exp = decodeExp(token);
    if (exp === undefined) return;
    if (this.#verified.size >= VERIFIED_CACHE_SIZE) {
      // Map keeps insertion order: drop the oldest entry.
      const oldest = this.#verified.keys().next().value;
      if (oldest !== undefined) this.#verified.delete(oldest);
    }
    this.#verified.set(token, { principal, expiresAtMs: exp * 1000 });
  }

  async #verifySignatureAndClaims(token: string): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.#keys.publicKey, {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: this.#issuer,
        audience: this.#audience,
        typ: 'at+jwt',
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'scope'],
        currentDate: this.#now(),
        clockTolerance: 5,
      });
      const roles = payload.ward_roles;
      if (!Array.isArray(roles) || !roles.every((r): r is Role => typeof r === 'string' && isRole(r))) throw new TokenRequestError('roles');
      const sub = payload.sub as string;
      if (!SUBJECT.test(sub)) throw new TokenRequestError('sub');
      const patient = typeof payload.patient === 'string' ? payload.patient : undefined;
      const organizations = payload.ward_organizations;
      if (organizations !== undefined && (!Array.isArray(organizations) || !organizations.every((o) => ORGANIZATION.test(String(o)))))
        throw new TokenRequestError('organizations');
      return {
        id: sub,
        kind: kindOfSubject(sub),
        roles,
        scopes: parseScopes(String(payload.scope)),
        ...(patient ? { patient } : {}),
        ...(typeof payload.client_id === 'string' ? { clientId: payload.client_id } : {}),
        tokenId: payload.jti as string,
        purposeOfUse: typeof payload.purpose_of_use === 'string' ? payload.purpose_of_use : 'TREAT',
        ...(organizations ? { organizations: organizations as string[] } : {}),
      };
    } catch (e) {
      if (e instanceof joseErrors.JOSEError || e instanceof TokenRequestError || e instanceof ScopeSyntaxError) {
        throw new WardError('WARD_UNAUTHENTICATED', { cause: e });
      }
      throw e;
    }
  }
}

function checkMintRequest(r: MintRequest): void {
  if (!SUBJECT.test(r.sub)) throw new TokenRequestError('--sub must be "system" or a FHIR reference such as Practitioner/123');
  if (r.roles.length === 0) throw new TokenRequestError('at least one --role is required');
  for (const role of r.roles) if (!isRole(role)) throw new TokenRequestError(`unknown role: ${role}`);
  // Separation of duties holds for minted tokens as for accounts ([NPRM] 164.312(a)(2)(ii); 164.312(c)(1)
  // for purge): administrative roles and the purge role are held alone, so no token mixes them.
  const refusal = separationRefusal(r.roles as Role[]);
  if (refusal) throw new TokenRequestError(SEPARATION_TEXT[refusal]);
  try {
    parseScopes(r.scope);
  } catch (e) {
    throw new TokenRequestError(`invalid --scope: ${(e as Error).message}`);
  }
  if (!Number.isInteger(r.ttlSeconds) || r.ttlSeconds < 1 || r.ttlSeconds > MAX_TTL_SECONDS) {
    throw new TokenRequestError(`--ttl must be between 1 second and ${MAX_TTL_SECONDS / 3600} hours`);
  }
  if (r.patient !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(r.patient)) throw new TokenRequestError('--patient must be a FHIR id');
  for (const o of r.organizations ?? []) if (!ORGANIZATION.test(o)) throw new TokenRequestError('--organization must be Organization/<id>');
  if (r.purposeOfUse !== undefined && !/^[A-Z][A-Z0-9]{1,31}$/.test(r.purposeOfUse)) {
    throw new TokenRequestError('--purpose-of-use must be an HL7 v3 PurposeOfUse code such as TREAT or PUBHLTH');
  }
  if (kindOfSubject(r.sub) === 'patient' && r.patient !== undefined && r.patient !== r.sub.slice('Patient/'.length)) {
    throw new TokenRequestError('a patient principal may only have its own patient context');
  }
  if (/(^|\s)patient\//.test(r.scope) && r.patient === undefined && kindOfSubject(r.sub) !== 'patient') {
    throw new TokenRequestError('patient/ scopes need --patient');
  }
}

/** Parses 15m, 1h, 900s, 900 into seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)\s*([smh]?)$/.exec(text.trim());
  if (!m) throw new TokenRequestError('--ttl must look like 15m, 1h or 900s');
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600 } as const)[m[2] as '' | 's' | 'm' | 'h'];
}

/** A short, non-reversible fingerprint of a token for logs and audit (never the token). */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}
