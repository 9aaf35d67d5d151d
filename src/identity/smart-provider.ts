import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, exportJWK } from 'jose';
import { errors, Provider } from 'oidc-provider';
import type { RequestContext } from '../audit/index.js';
import type { Keyring } from '../crypto/index.js';
import { type Database, findUserById, insertArtifactOnce, touchClient } from '../store/index.js';
import { tokenFingerprint } from './access-tokens.js';
import { CLIENT_ASSERTION_ALGS, type ClientRegistry, clientStateNote } from './clients.js';
import type { CredentialAudit } from './credential-audit.js';
import { oauthAdapterFactory } from './oauth-adapter.js';
import type { OAuthAudit } from './oauth-audit.js';
import { artifactKey, sealArtifact } from './oauth-sealing.js';
import type { PasswordLogin } from './password-login.js';
import {
  auditAuthorizationRequests,
  GRANT_SECONDS,
  issueRefreshToken,
  offlineAccessAsksConsent,
  refreshTokenSeconds,
  SIGN_IN_SESSION_SECONDS,
  smartAuthorizationParams,
  smartTokenResponse,
} from './smart-authorization-code.js';
import { SmartInteractions } from './smart-interactions.js';
import type { SmartLaunches } from './smart-launch.js';
import type { SmartLoginFactor } from './smart-login-factor.js';
import type { PatientPicker } from './smart-patient-picker.js';
import { checkScopeCeiling } from './smart-scope-ceiling.js';

/** Where the authorization server is mounted; its issuer is `${baseUrl}${OAUTH_MOUNT}`. */
export const OAUTH_MOUNT = '/oauth';
/** SMART Backend Services: a client assertion expires no more than five minutes after it is made. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 5;

/** Where the consent and login pages live, under OAUTH_MOUNT (Ward's own routes, not oidc-provider's). */
export const INTERACTION_PATH = '/interaction';
/** The style hint given to SMART apps in the token response (`smart_style_url`). */
export const SMART_STYLE_PATH = '/smart-style.json';

/** Scopes the server knows by name; resource scopes (`system/Patient.rs`…) are checked by Ward against each client's ceiling. */
export const NAMED_SCOPES = ['openid', 'fhirUser', 'offline_access', 'online_access', 'launch', 'launch/patient'] as const;

/** The parts of oidc-provider's request context (a Koa context) that Ward reads. */
interface ProtocolContext {
  readonly method: string;
  readonly path: string;
  status: number;
  body: unknown;
  readonly req: IncomingMessage;
  readonly state: { wardReason?: string };
  readonly oidc?: {
    readonly params?: Record<string, unknown>;
    readonly client?: ProtocolClient;
    readonly entities?: Record<string, { readonly accountId?: unknown; readonly scope?: string } | undefined>;
  };
}

interface ProtocolClient {
  readonly clientId: string;
}

interface ProtocolToken {
  readonly kind: string;
  readonly clientId: string;
  readonly scope?: string;
  readonly grantId?: string;
}

export interface SmartServerDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly clients: ClientRegistry;
  readonly audit: OAuthAudit;
  readonly now: () => Date;
  readonly baseUrl: string;
  /** ES256 key that signs ID tokens (Ward's token-signing key). */
  readonly signingKey: KeyObject;
  readonly accessTokenSeconds: number;
  /** Where unexpected protocol errors are reported (PHI-free: name and code only). */
  readonly onError?: (error: { name: string; message: string }) => void;
  /** Ward's password login: the login page runs it, with its throttling and audit. */
  readonly passwordLogin: PasswordLogin;
  readonly credentialAudit: CredentialAudit;
  readonly launches: SmartLaunches;
  /** The login page's second factor for workforce accounts. */
  readonly loginFactor: SmartLoginFactor;
  /** The patient picker's searches and reads, through the vault. */
  readonly patientPicker: PatientPicker;
}

/** The SMART authorization server as the edge sees it: a Node request handler under OAUTH_MOUNT, and its login and consent steps. */
export interface SmartServer {
  readonly issuer: string;
  handle(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void>;
  readonly interactions: SmartInteractions;
}

/**
 * SMART App Launch 2 / OAuth 2 authorization server, built on oidc-provider (ADR 0013). Ward
 * adds what the protocol library leaves to the deployment: the client registry as the only
 * source of clients, sealed storage, the scope ceiling, Backend Services' assertion rules, and
 * an audit entry for every grant, refresh and denial, durable before the response leaves.
 */
export async function createSmartServer(deps: SmartServerDeps): Promise<SmartServer> {
  const issuer = `${deps.baseUrl}${OAUTH_MOUNT}`;
  const signingJwk = { ...(await exportJWK(deps.signingKey)), alg: 'ES256', use: 'sig' };
  const contexts = new WeakMap<IncomingMessage, RequestContext>();
  const ttl = deps.accessTokenSeconds;
  const fhirBase = `${deps.baseUrl}/fhir`;

  /**
   * The scopes a request may be granted: for Backend Services exactly what was asked, refused as
   * a whole (invalid_scope) if any of it is beyond the client's ceiling or not a system/ scope.
   */
  async function grantableScopes(ctx: ProtocolContext, client: ProtocolClient): Promise<string> {
    const row = await deps.clients.find(client.clientId);
    if (row?.state !== 'approved') throw new errors.InvalidClient('client is not approved');
    // At the token endpoint a code or refresh token carries what was asked for at authorization.
    const source = ctx.oidc?.entities?.AuthorizationCode ?? ctx.oidc?.entities?.RefreshToken;
    const requested = String(source?.scope ?? ctx.oidc?.params?.scope ?? '');
    const systemOnly = ctx.oidc?.params?.grant_type === 'client_credentials';
    const check = checkScopeCeiling(requested, row.scopeCeiling, { systemOnly });
    if (!check.ok) throw new errors.InvalidScope(`requested scope is not allowed (${check.reason})`, check.scope);
    // The FHIR server's scopes are the resource scopes; openid, launch and the like are the server's own.
    return requested
      .split(' ')
      .filter((s) => s.includes('/') && !s.startsWith('launch'))
      .join(' ');
  }

  const launches = deps.launches;

  const provider = new Provider(issuer, {
    adapter: oauthAdapterFactory(deps),
    jwks: { keys: [signingJwk] },
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    clientAuthMethods: ['private_key_jwt', 'none'],
    enabledJWA: { clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS], idTokenSigningAlgValues: ['ES256'] },
    scopes: [...NAMED_SCOPES],
    pkce: { required: () => true },
    // The ID token says how and when the user signed in (RFC 8176 amr: pwd, otp, hwk; auth_time).
    claims: { openid: ['sub', 'amr', 'auth_time'], fhirUser: ['fhirUser'] },
    extraParams: smartAuthorizationParams(fhirBase, launches),
    interactions: { url: async (_ctx: unknown, interaction: { uid: string }) => `${OAUTH_MOUNT}${INTERACTION_PATH}/${interaction.uid}` },
    // Every refresh hands out a new refresh token; a used one presented again revokes the whole grant.
    rotateRefreshToken: true,
    issueRefreshToken,
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      AuthorizationCode: 60,
      Interaction: 600,
      IdToken: 3600,
      RefreshToken: refreshTokenSeconds,
      Session: SIGN_IN_SESSION_SECONDS,
      Grant: GRANT_SECONDS,
    },
    cookies: { keys: [deps.keyring.blindIndexer.hash('oauth-cookie-key', 'v1').toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client learns only about its own tokens: one app cannot probe another's.
        allowedPolicy: async (_ctx: unknown, client: ProtocolClient, token: ProtocolToken) => token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      // The FHIR API is the one resource server. oidc-provider keeps non-OpenID scopes only for a
      // resource server, so every request is for it, and the scopes it may carry are decided here.
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => fhirBase,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx: ProtocolContext, resource: string, client: ProtocolClient) => {
          if (resource !== fhirBase) throw new errors.InvalidTarget();
          return { scope: await grantableScopes(ctx, client), audience: fhirBase, accessTokenTTL: ttl, accessTokenFormat: 'opaque' };
        },
      },
    },
    routes: { introspection: '/introspect', revocation: '/revoke' },
    async findAccount(_ctx: unknown, id: string) {
      const user = await findUserById(deps.db, id);
      if (user?.status !== 'active') return undefined;
      return { accountId: id, kind: user.kind, claims: async () => ({ sub: id, fhirUser: `${deps.baseUrl}/fhir/${user.fhirUser}` }) };
    },
    async assertJwtClientAuthClaimsAndHeader(_ctx: unknown, claims: Record<string, unknown>, _header: unknown, client: ProtocolClient) {
      const nowSeconds = Math.floor(deps.now().getTime() / 1000);
      const exp = Number(claims.exp);
      if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
        throw new errors.InvalidClientAuth('client assertion must expire within five minutes');
      }
      if (claims.sub !== client.clientId) throw new errors.InvalidClientAuth('sub (JWT subject) must be the client_id');
      // Recorded atomically until the assertion expires: of two concurrent uses only one passes.
      const id = `${client.clientId}\u0000${String(claims.jti)}`;
      const idHash = artifactKey(deps.keyring, id);
      const box = sealArtifact(deps.keyring, 'ClientAssertion', idHash, { iss: client.clientId });
      const fresh = await insertArtifactOnce(deps.db, {
        kind: 'ClientAssertion',
        idHash,
        grantHash: null,
        uidHash: null,
        userCodeHash: null,
        clientId: client.clientId,
        accountId: null,
        keyId: box.keyId,
        iv: box.iv,
        payload: box.ciphertext,
        expiresAt: new Date((exp + CLOCK_TOLERANCE_SECONDS) * 1000),
      });
      if (!fresh) throw new errors.InvalidClientAuth('client assertion tokens must only be used once');
    },
    async extraTokenClaims(_ctx: unknown, token: ProtocolToken) {
      // The mint gate: nothing is issued to a client that is not approved now, or beyond its ceiling.
      const client = await deps.clients.find(token.clientId);
      if (client?.state !== 'approved') throw new errors.InvalidClient('client is not approved');
      const check = checkScopeCeiling(token.scope ?? '', client.scopeCeiling, { systemOnly: token.kind === 'ClientCredentials' });
      if (!check.ok) throw new errors.InvalidScope(`requested scope is not allowed (${check.reason})`, check.scope);
      await touchClient(deps.db, client.clientId, deps.now());
      // The launch context the user's consent settled on travels with every access token of the grant.
      if (token.kind !== 'AccessToken' || !token.grantId) return undefined;
      const context = await launches.contextOf(token.grantId);
      return Object.keys(context).length > 0 ? { ...context } : undefined;
    },
    renderError: async (ctx: ProtocolContext & { type: string }, out: Record<string, string>) => {
      ctx.type = 'json';
      ctx.body = { error: out.error, error_description: out.error_description };
    },
  });
  provider.proxy = true;
  // Why a request was refused, for the audit entry only (the client sees oidc-provider's generic text).
  for (const event of ['grant.error', 'introspection.error', 'revocation.error', 'authorization.error']) {
    provider.on(event, (ctx, error) => {
      const e = error as Error & { error_detail?: unknown; error_description?: unknown };
      const detail = typeof e.error_detail === 'string' ? e.error_detail : e.error_description;
      (ctx as ProtocolContext).state.wardReason = String(typeof detail === 'string' ? detail : e.message).slice(0, 120);
    });
  }
  provider.on('server_error', (_ctx: unknown, error: Error) => deps.onError?.({ name: error.name, message: error.message }));
  provider.use(offlineAccessAsksConsent());
  provider.use(auditAuthorizationRequests(deps.audit, contexts, deps.clients));
  provider.use(auditTokenEndpoints(deps.audit, contexts, deps.clients));
  provider.use(smartTokenResponse(`${issuer}${SMART_STYLE_PATH}`));

  const callback = provider.callback();
  const base = new URL(issuer);
  // URLs the server builds (and the audience it expects in client assertions) come from the
  // configured base URL, never from the request's Host header.
  const prepare = (req: IncomingMessage) => {
    req.headers['x-forwarded-proto'] = base.protocol.slice(0, -1);
    req.headers['x-forwarded-host'] = base.host;
    delete req.headers['x-forwarded-for'];
  };
  const interactions = new SmartInteractions({
    provider,
    db: deps.db,
    passwordLogin: deps.passwordLogin,
    launches,
    loginFactor: deps.loginFactor,
    patientPicker: deps.patientPicker,
    credentialAudit: deps.credentialAudit,
    oauthAudit: deps.audit,
    fhirBase,
    now: deps.now,
    prepare,
  });
  return {
    issuer,
    interactions,
    async handle(req, res, ctx) {
      contexts.set(req, ctx);
      prepare(req);
      const url = req.url ?? '/';
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
      req.url = url.slice(OAUTH_MOUNT.length) || '/';
      await callback(req, res);
    },
  };
}

const AUDITED_PATHS: Readonly<Record<string, 'token' | 'token-introspect' | 'token-revoke'>> = {
  '/token': 'token',
  '/introspect': 'token-introspect',
  '/revoke': 'token-revoke',
};

/**
 * Koa middleware around the token, introspection and revocation endpoints: after oidc-provider
 * has answered and before the answer is sent, the outcome is audited with the client id (the
 * authenticated one, or the one claimed by a refused request). If the audit log cannot take it,
 * the client gets 503 and no token (invariant 2).
 */
function auditTokenEndpoints(audit: OAuthAudit, contexts: WeakMap<IncomingMessage, RequestContext>, clients: ClientRegistry) {
  return async (ctx: ProtocolContext, next: () => Promise<void>) => {
    const kind = ctx.method === 'POST' ? AUDITED_PATHS[ctx.path as string] : undefined;
    if (!kind) return next();
    await next();
    const wardCtx = contexts.get(ctx.req) ?? { requestId: 'unknown', listener: 'https', audited: false };
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>;
    const authenticated = ctx.oidc?.client?.clientId;
    const clientId = authenticated ?? claimedClientId(params);
    const failed = ctx.status >= 400;
    const actor = clientId
      ? { kind: 'client' as const, clientId, claimed: authenticated === undefined, ...subOf(ctx) }
      : { kind: 'anonymous' as const };
    const grantType = typeof params.grant_type === 'string' ? params.grant_type.slice(0, 64) : undefined;
    const detail: Record<string, string> = {
      ...(grantType ? { grantType } : {}),
      ...(failed && typeof body.error === 'string' ? { error: body.error } : {}),
      ...(failed && ctx.state.wardReason ? { reason: ctx.state.wardReason } : {}),
      ...(await clientStateNote(clients, clientId, body.error)),
      ...(!failed && typeof body.access_token === 'string' ? { accessToken: tokenFingerprint(body.access_token) } : {}),
      ...(!failed && typeof body.refresh_token === 'string' ? { refreshToken: tokenFingerprint(body.refresh_token) } : {}),
      ...(!failed && typeof body.expires_in === 'number' ? { expiresIn: String(body.expires_in) } : {}),
      ...(kind === 'token-introspect' && !failed ? { active: String(body.active === true) } : {}),
    };
    const scopes = typeof body.scope === 'string' ? body.scope : undefined;
    try {
      await audit.record(wardCtx, {
        action: kind === 'token' ? (failed ? 'token-denied' : 'token-grant') : kind,
        actor,
        status: ctx.status,
        ...(failed ? { code: `oauth:${String(body.error ?? 'error')}`.slice(0, 64) } : {}),
        ...(scopes ? { scopes } : {}),
        detail,
      });
    } catch {
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the audit log cannot record this request' };
    }
  };
}

function claimedClientId(params: Record<string, unknown>): string | undefined {
  if (typeof params.client_id === 'string') return params.client_id.slice(0, 100);
  if (typeof params.client_assertion === 'string') {
    try {
      const iss = decodeJwt(params.client_assertion).iss;
      return typeof iss === 'string' ? iss.slice(0, 100) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function subOf(ctx: ProtocolContext): { sub?: string } {
  const accountId = ctx.oidc?.entities?.AccessToken?.accountId ?? ctx.oidc?.entities?.RefreshToken?.accountId;
  return typeof accountId === 'string' ? { sub: `User/${accountId}` } : {};
}
