import type { IncomingMessage } from 'node:http';
import { errors } from 'oidc-provider';
import type { RequestContext } from '../audit/index.js';
import { type ClientRegistry, clientStateNote } from './clients.js';
import type { OAuthAudit } from './oauth-audit.js';
import type { SmartLaunches } from './smart-launch.js';

/** 170.315(g)(10)(v)(A): a patient's app with offline_access keeps a refresh token at least 3 months; each use renews it. */
export const PATIENT_OFFLINE_REFRESH_SECONDS = 92 * 24 * 3600;
/** A workforce user's refresh tokens (offline or online) last at most a clinical working day. */
export const WORKFORCE_REFRESH_SECONDS = 12 * 3600;
/** The sign-in session at the authorization server; online_access refresh tokens die with it. */
export const SIGN_IN_SESSION_SECONDS = 3600;
/** A grant outlives its refresh tokens, so rotation can renew a patient's access; revocation removes it. */
export const GRANT_SECONDS = 366 * 24 * 3600;

/** The parts of oidc-provider's Koa context these functions read. */
interface CodeFlowContext {
  readonly method: string;
  readonly path: string;
  status: number;
  body: unknown;
  query: Record<string, unknown>;
  readonly url: string;
  readonly req: IncomingMessage;
  readonly state: { wardReason?: string };
  response: { get(name: string): string };
  remove(name: string): void;
  readonly oidc?: {
    readonly params?: Record<string, unknown>;
    readonly client?: { readonly clientId: string };
    readonly entities?: Record<string, Entity | undefined>;
  };
}

interface Entity {
  readonly accountId?: string;
  readonly kind?: string;
  readonly scope?: string;
  readonly scopes?: ReadonlySet<string>;
  readonly extra?: Record<string, unknown>;
  getOIDCScopeFiltered?(scopes: ReadonlySet<string>): string;
}

export interface WardAccount {
  readonly accountId: string;
  readonly kind: 'patient' | 'workforce';
}

/** How long a refresh token lives, by who it acts for and what was granted (ADR 0013). */
export function refreshTokenSeconds(ctx: CodeFlowContext | undefined, token: { scopes: ReadonlySet<string> }): number {
  const account = ctx?.oidc?.entities?.Account as unknown as WardAccount | undefined;
  if (!token.scopes.has('offline_access')) return SIGN_IN_SESSION_SECONDS;
  return account?.kind === 'patient' ? PATIENT_OFFLINE_REFRESH_SECONDS : WORKFORCE_REFRESH_SECONDS;
}

/** A refresh token for offline_access, and for online_access (bound to the sign-in session). */
export function issueRefreshToken(
  _ctx: unknown,
  client: { grantTypeAllowed(type: string): boolean },
  code: { scopes: ReadonlySet<string> },
): boolean {
  return client.grantTypeAllowed('refresh_token') && (code.scopes.has('offline_access') || code.scopes.has('online_access'));
}

/**
 * SMART App Launch's own authorization parameters. `aud` must be Ward's FHIR base URL (so a
 * token is never minted for a server the app did not mean); `launch` is an EHR launch id, used
 * up by this request, and only with the `launch` scope.
 */
export function smartAuthorizationParams(fhirBase: string, launches: SmartLaunches) {
  return {
    aud: async (_ctx: unknown, value: unknown) => {
      if (value !== fhirBase && value !== `${fhirBase}/`) throw new errors.InvalidRequest("aud must be Ward's FHIR base URL");
    },
    launch: async (ctx: CodeFlowContext, value: unknown, client: { clientId: string }) => {
      const scopes = String(ctx.oidc?.params?.scope ?? '').split(' ');
      if (!scopes.includes('launch')) {
        if (value !== undefined) throw new errors.InvalidRequest('launch is given without the launch scope');
        return;
      }
      if (typeof value !== 'string' || !(await launches.consume(value, client.clientId)))
        throw new errors.InvalidRequest('launch is unknown, expired, already used or for another app');
    },
  };
}

/**
 * OpenID Connect drops offline_access unless the request says prompt=consent; SMART apps do not
 * send it, and Ward asks for consent on every authorization anyway, so it says so for them.
 * (GET requests; a POST authorization request keeps oidc-provider's rule.)
 */
export function offlineAccessAsksConsent() {
  return async (ctx: CodeFlowContext, next: () => Promise<void>) => {
    if (ctx.method === 'GET' && ctx.path === '/auth') {
      const scope = typeof ctx.query.scope === 'string' ? ctx.query.scope : '';
      const prompt = typeof ctx.query.prompt === 'string' ? ctx.query.prompt : '';
      if (scope.split(' ').includes('offline_access') && !prompt.split(' ').includes('consent')) {
        // oidc-provider finds its mount path by locating the request URL in originalUrl: keep them in step.
        const req = ctx.req as IncomingMessage & { originalUrl?: string };
        const original = req.originalUrl ?? ctx.url;
        const mount = original.slice(0, Math.max(0, original.indexOf(ctx.url)));
        ctx.query = { ...ctx.query, prompt: [prompt, 'consent'].filter(Boolean).join(' ') };
        req.originalUrl = `${mount}${ctx.url}`;
      }
    }
    return next();
  };
}

/**
 * The SMART token response: the launch context (`patient`, `encounter`), `need_patient_banner`
 * and `smart_style_url` beside the tokens, and the granted launch/OpenID scopes in `scope`
 * (oidc-provider lists only the FHIR scopes of a token bound to the FHIR server).
 */
export function smartTokenResponse(styleUrl: string) {
  return async (ctx: CodeFlowContext, next: () => Promise<void>) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200) return;
    const body = ctx.body as Record<string, unknown>;
    const entities = ctx.oidc?.entities ?? {};
    const source = entities.AuthorizationCode ?? entities.RotatedRefreshToken ?? entities.RefreshToken;
    const grant = entities.Grant;
    if (!source?.scopes || !grant?.getOIDCScopeFiltered || typeof body.access_token !== 'string') return;
    const named = grant.getOIDCScopeFiltered(source.scopes);
    const extra = entities.AccessToken?.extra ?? {};
    ctx.body = {
      ...body,
      scope: [named, typeof body.scope === 'string' ? body.scope : ''].filter(Boolean).join(' '),
      ...(typeof extra.patient === 'string' ? { patient: extra.patient, need_patient_banner: true } : {}),
      ...(typeof extra.encounter === 'string' ? { encounter: extra.encounter } : {}),
      smart_style_url: styleUrl,
    };
  };
}

const TOKEN_PATHS = new Set(['/token', '/introspect', '/revoke']);
const QUIET_PATHS = new Set(['/jwks', '/.well-known/openid-configuration']);

/**
 * Audits the authorization endpoint (every request: a code, an interaction or an error, with the
 * client id) and any other refused request to the authorization server, which never reach Ward's
 * error handler. Public metadata that answers is not audited. If the audit log cannot take the
 * entry, the answer becomes 503 and no code leaves (invariant 2).
 */
export function auditAuthorizationRequests(audit: OAuthAudit, contexts: WeakMap<IncomingMessage, RequestContext>, clients: ClientRegistry) {
  return async (ctx: CodeFlowContext, next: () => Promise<void>) => {
    if (TOKEN_PATHS.has(ctx.path) && ctx.method === 'POST') return next();
    await next();
    const authorize = ctx.path === '/auth' || ctx.path.startsWith('/auth/');
    if (!authorize && (ctx.status < 400 || QUIET_PATHS.has(ctx.path))) return;
    const wardCtx = contexts.get(ctx.req) ?? { requestId: 'unknown', listener: 'https', audited: false };
    const params = ctx.oidc?.params ?? {};
    const authenticated = ctx.oidc?.client?.clientId;
    const claimed = typeof params.client_id === 'string' ? params.client_id.slice(0, 100) : undefined;
    const clientId = authenticated ?? claimed;
    const accountId = ctx.oidc?.entities?.Account?.accountId;
    const actor = clientId
      ? { kind: 'client' as const, clientId, claimed: authenticated === undefined, ...(accountId ? { sub: `User/${accountId}` } : {}) }
      : { kind: 'anonymous' as const };
    const outcome = outcomeOf(ctx);
    try {
      await audit.record(wardCtx, {
        action: authorize ? 'authorize' : 'oauth-request',
        actor,
        status: outcome.error ? Math.max(ctx.status, 400) : ctx.status,
        ...(outcome.error ? { code: `oauth:${outcome.error}`.slice(0, 64) } : {}),
        detail: {
          path: ctx.path.startsWith('/auth/') ? '/auth/:uid' : ctx.path.slice(0, 64),
          result: outcome.result,
          ...(outcome.error && ctx.state.wardReason ? { reason: ctx.state.wardReason } : {}),
          ...(await clientStateNote(clients, clientId, outcome.error)),
        },
      });
    } catch {
      ctx.remove('Location');
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the audit log cannot record this request' };
    }
  };
}

/** What an authorization-server answer amounted to: a code, an interaction, an error (redirected or shown). */
function outcomeOf(ctx: CodeFlowContext): { result: string; error?: string } {
  if (ctx.status >= 400) {
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    return { result: 'error', error: typeof body.error === 'string' ? body.error.slice(0, 48) : 'error' };
  }
  const location = ctx.response.get('Location');
  if (!location) return { result: 'answered' };
  const url = URL.canParse(location, 'https://ward.invalid') ? new URL(location, 'https://ward.invalid') : undefined;
  const error = url?.searchParams.get('error');
  if (error) return { result: 'error', error: error.slice(0, 48) };
  if (url?.searchParams.has('code')) return { result: 'code' };
  if (url?.pathname.includes('/interaction/')) return { result: 'interaction' };
  return { result: 'redirect' };
}
