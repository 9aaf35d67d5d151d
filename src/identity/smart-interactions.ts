import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionDetails, Provider } from 'oidc-provider';
import { isWardError } from '../fhir/index.js';
import { type Database, findClient, findUserById, type UserRow } from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import type { OAuthAudit } from './oauth-audit.js';
import type { PasswordLogin } from './password-login.js';
import type { LaunchContext, SmartLaunches } from './smart-launch.js';
import { secondFactorAfterPassword } from './smart-login-factor.js';
import { type ScopeLine, scopeLines } from './smart-scope-words.js';

/** What the edge renders for an interaction: a login page, a consent page, or "this request has expired". */
export type InteractionView =
  | { readonly kind: 'login'; readonly uid: string; readonly appName: string; readonly problem?: 'failed' | 'throttled' }
  | {
      readonly kind: 'consent';
      readonly uid: string;
      readonly appName: string;
      readonly userKind: 'patient' | 'workforce';
      readonly scopes: readonly ScopeLine[];
      readonly patient?: string;
    }
  | { readonly kind: 'expired' };

/** A submitted form either finished the interaction (the response is a redirect, already sent) or shows a page again. */
export type InteractionOutcome =
  | { readonly kind: 'redirected' }
  | { readonly kind: 'page'; readonly status: number; readonly view: InteractionView; readonly retryAfterSeconds?: number };

export interface SmartInteractionsDeps {
  readonly provider: Provider;
  readonly db: Database;
  readonly passwordLogin: PasswordLogin;
  readonly launches: SmartLaunches;
  readonly credentialAudit: CredentialAudit;
  readonly oauthAudit: OAuthAudit;
  readonly fhirBase: string;
  /** Applies the same request fixes as the protocol handler (base URL, not the Host header). */
  readonly prepare: (req: IncomingMessage) => void;
}

const NAMED_OIDC_SCOPES = new Set(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access']);

/**
 * The user's part of an authorization code flow (oidc-provider "interactions"): Ward's login
 * page, then the consent page. The login runs Ward's password login (its throttling, refusals
 * and their audit entries), then the second-factor seam; the consent records exactly the scopes
 * the user approved (a user may leave resource scopes out) and the launch context, and is
 * audited either way.
 */
export class SmartInteractions {
  readonly #deps: SmartInteractionsDeps;

  constructor(deps: SmartInteractionsDeps) {
    this.#deps = deps;
  }

  async view(req: IncomingMessage, res: ServerResponse, uid: string): Promise<InteractionView> {
    const details = await this.#details(req, res, uid);
    if (!details) return { kind: 'expired' };
    return this.#viewOf(details);
  }

  async login(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: CredentialContext,
    uid: string,
    form: URLSearchParams,
  ): Promise<InteractionOutcome> {
    const details = await this.#details(req, res, uid);
    if (details?.prompt.name !== 'login') return this.#expired(ctx, 'login');
    const appName = await this.#appName(details);
    const body = { username: form.get('username') ?? '', password: form.get('password') ?? '' };
    let verified: Awaited<ReturnType<PasswordLogin['verifyPassword']>>;
    try {
      verified = await this.#deps.passwordLogin.verifyPassword(ctx, body);
    } catch (e) {
      // Refusals were audited by the password login; the page says no more than POST /auth/login would.
      if (isWardError(e) && e.status < 500)
        return { kind: 'page', status: e.status, view: { kind: 'login', uid, appName, problem: 'failed' } };
      throw e;
    }
    if (verified.kind === 'throttled')
      return {
        kind: 'page',
        status: 429,
        view: { kind: 'login', uid, appName, problem: 'throttled' },
        retryAfterSeconds: verified.retryAfterSeconds,
      };
    const user = verified.user;
    const clientId = String(details.params.client_id);
    const second = await secondFactorAfterPassword(user);
    if (second.kind === 'refused') {
      await this.#deps.credentialAudit.record(ctx, {
        action: 'login-failed',
        actor: actorOf(user),
        status: 401,
        code: 'WARD_LOGIN_FAILED',
        detail: { reason: second.reason, via: 'authorization-server', clientId },
      });
      return { kind: 'page', status: 401, view: { kind: 'login', uid, appName, problem: 'failed' } };
    }
    await this.#deps.credentialAudit.record(ctx, {
      action: 'login',
      actor: actorOf(user),
      status: 200,
      detail: { method: 'password', amr: second.amr.join(' '), via: 'authorization-server', clientId },
    });
    await this.#deps.provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.id, amr: [...second.amr] } },
      { mergeWithLastSubmission: false },
    );
    return { kind: 'redirected' };
  }

  async consent(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: CredentialContext,
    uid: string,
    form: URLSearchParams,
  ): Promise<InteractionOutcome> {
    const { provider, db, oauthAudit, launches, fhirBase } = this.#deps;
    const details = await this.#details(req, res, uid);
    if (details?.prompt.name !== 'consent' || !details.session) return this.#expired(ctx, 'consent');
    const clientId = String(details.params.client_id);
    const accountId = details.session.accountId;
    const user = await findUserById(db, accountId);
    const actor = { kind: 'client' as const, clientId, sub: user?.fhirUser ?? `User/${accountId}` };
    const finish = async (status: number, detail: Record<string, string>, result: object) => {
      await oauthAudit.record(ctx, { action: 'consent', actor, status, ...(status >= 400 ? { code: 'oauth:access_denied' } : {}), detail });
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: status < 400 });
      return { kind: 'redirected' } as const;
    };
    const denied = (reason: string, description: string) =>
      finish(403, { decision: 'denied', reason }, { error: 'access_denied', error_description: description });
    if (user?.status !== 'active') return denied('account-inactive', 'the account is not active');
    if (form.get('decision') !== 'approve') return denied('user-denied', 'the user denied access');

    const requested = String(details.params.scope ?? '')
      .split(' ')
      .filter(Boolean);
    const context = await this.#launchContext(details, user, requested);
    if (context.kind === 'refused') return denied(context.reason, context.description);
    // Down-scoping: of the resource scopes asked for, only those the user left ticked are granted.
    const chosen = new Set(form.getAll('scope'));
    const resourceScopes = requested.filter((s) => !NAMED_OIDC_SCOPES.has(s) && chosen.has(s));
    const named = requested.filter((s) => NAMED_OIDC_SCOPES.has(s));
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
    if (named.length > 0) grant.addOIDCScope(named.join(' '));
    if (resourceScopes.length > 0) grant.addResourceScope(fhirBase, resourceScopes.join(' '));
    const declined = requested.filter((s) => !NAMED_OIDC_SCOPES.has(s) && !chosen.has(s));
    // Recorded as refused, so the authorization goes on without them instead of asking again.
    if (declined.length > 0) grant.rejectResourceScope(fhirBase, declined.join(' '));
    const grantId = await grant.save();
    await launches.bind(grantId, accountId, clientId, context.context);
    return finish(
      200,
      {
        decision: 'approved',
        granted: [...named, ...resourceScopes].join(' '),
        ...(declined.length > 0 ? { declined: declined.join(' ') } : {}),
        ...(context.context.patient ? { patient: context.context.patient } : {}),
        ...(context.context.encounter ? { encounter: context.context.encounter } : {}),
      },
      { consent: { grantId } },
    );
  }

  /**
   * The patient (and encounter) the app will work with. Standalone `launch/patient`: a patient
   * user's own record. EHR `launch`: the context of the launch id, which only the user who
   * launched the app may authorize.
   */
  async #launchContext(
    details: InteractionDetails,
    user: UserRow,
    requested: readonly string[],
  ): Promise<{ kind: 'ok'; context: LaunchContext } | { kind: 'refused'; reason: string; description: string }> {
    if (requested.includes('launch')) {
      const launch = typeof details.params.launch === 'string' ? await this.#deps.launches.find(details.params.launch) : undefined;
      if (!launch) return { kind: 'refused', reason: 'launch-expired', description: 'the launch has expired' };
      if (launch.launchedBy !== user.fhirUser)
        return { kind: 'refused', reason: 'launch-other-user', description: 'the launch belongs to another user' };
      return {
        kind: 'ok',
        context: { ...(launch.patient ? { patient: launch.patient } : {}), ...(launch.encounter ? { encounter: launch.encounter } : {}) },
      };
    }
    if (requested.includes('launch/patient')) {
      if (user.kind === 'patient') return { kind: 'ok', context: { patient: user.fhirUser.slice('Patient/'.length) } };
      // TODO(issue 5 item 5): a patient picker for workforce users, listing only patients policy lets them see.
      return { kind: 'refused', reason: 'no-patient-picker', description: 'choose the patient by launching the app from Ward' };
    }
    return { kind: 'ok', context: user.kind === 'patient' ? { patient: user.fhirUser.slice('Patient/'.length) } : {} };
  }

  async #viewOf(details: InteractionDetails): Promise<InteractionView> {
    const appName = await this.#appName(details);
    if (details.prompt.name === 'login') return { kind: 'login', uid: details.uid, appName };
    const user = details.session ? await findUserById(this.#deps.db, details.session.accountId) : undefined;
    if (details.prompt.name !== 'consent' || !user) return { kind: 'expired' };
    return {
      kind: 'consent',
      uid: details.uid,
      appName,
      userKind: user.kind,
      scopes: scopeLines(String(details.params.scope ?? '')),
      ...(user.kind === 'patient' ? { patient: user.fhirUser } : {}),
    };
  }

  async #appName(details: InteractionDetails): Promise<string> {
    const client = await findClient(this.#deps.db, String(details.params.client_id));
    return client?.name ?? 'an app';
  }

  /** The interaction this browser holds, if it is the one the URL names and has not expired. */
  async #details(req: IncomingMessage, res: ServerResponse, uid: string): Promise<InteractionDetails | undefined> {
    this.#deps.prepare(req);
    try {
      const details = await this.#deps.provider.interactionDetails(req, res);
      return details.uid === uid ? details : undefined;
    } catch (e) {
      if ((e as { name?: string }).name === 'SessionNotFound') return undefined;
      throw e;
    }
  }

  async #expired(ctx: CredentialContext, step: string): Promise<InteractionOutcome> {
    await this.#deps.oauthAudit.record(ctx, {
      action: 'oauth-request',
      actor: { kind: 'anonymous' },
      status: 400,
      code: 'oauth:interaction_not_found',
      detail: { step },
    });
    return { kind: 'page', status: 400, view: { kind: 'expired' } };
  }
}
