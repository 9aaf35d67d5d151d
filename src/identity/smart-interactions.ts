import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InteractionDetails, Provider } from 'oidc-provider';
import { isWardError } from '../fhir/index.js';
import { type Database, findClient, findUserById, type UserRow } from '../store/index.js';
import type { CredentialAudit, CredentialContext } from './credential-audit.js';
import { actorOf } from './enrollment.js';
import type { OAuthAudit } from './oauth-audit.js';
import type { PasswordLogin } from './password-login.js';
import type { SmartLaunches } from './smart-launch.js';
import { launchContextFor } from './smart-launch-context.js';
import type { PendingSignIn, SmartLoginFactor } from './smart-login-factor.js';
import { type PatientChoice, type PatientPicker, PICKER_LIMIT, pickerPrincipal, pickerQuery } from './smart-patient-picker.js';
import { type ScopeLine, scopeLines } from './smart-scope-words.js';

/** What the edge renders for an interaction: a login page, a consent page, or "this request has expired". */
export type InteractionView =
  | {
      readonly kind: 'login';
      readonly uid: string;
      readonly appName: string;
      readonly problem?: 'failed' | 'throttled' | 'enroll-first' | 'start-again';
    }
  | {
      readonly kind: 'factor';
      readonly uid: string;
      readonly appName: string;
      /** Offer a TOTP code field. */
      readonly totp: boolean;
      /** WebAuthn request options (JSON) when the account has a security key or passkey. */
      readonly webauthn?: unknown;
      readonly problem?: 'failed' | 'throttled';
    }
  | {
      readonly kind: 'consent';
      readonly uid: string;
      readonly appName: string;
      readonly userKind: 'patient' | 'workforce';
      readonly scopes: readonly ScopeLine[];
      readonly patient?: string;
      /** A workforce user's standalone `launch/patient`: choose the patient (search text, and the patients offered). */
      readonly picker?: { readonly query: string; readonly choices: readonly PatientChoice[] };
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
  readonly loginFactor: SmartLoginFactor;
  readonly patientPicker: PatientPicker;
  readonly credentialAudit: CredentialAudit;
  readonly oauthAudit: OAuthAudit;
  readonly fhirBase: string;
  readonly now: () => Date;
  /** Applies the same request fixes as the protocol handler (base URL, not the Host header). */
  readonly prepare: (req: IncomingMessage) => void;
}

const NAMED_OIDC_SCOPES = new Set(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access']);

/**
 * The user's part of an authorization code flow (oidc-provider "interactions"): Ward's login
 * page, a second factor for workforce accounts, then the consent page (with a patient picker
 * for a workforce user's standalone launch). The login runs Ward's password login (its
 * throttling, refusals and their audit entries) and SecondFactor (the same throttle, replay
 * refusal and audit as a web login); the consent records exactly the scopes the user approved
 * (a user may leave resource scopes out) and the launch context, and is audited either way.
 */
export class SmartInteractions {
  readonly #deps: SmartInteractionsDeps;

  constructor(deps: SmartInteractionsDeps) {
    this.#deps = deps;
  }

  /** The page for this interaction; `search` is the picker's search text, run through the vault as the user. */
  async view(req: IncomingMessage, res: ServerResponse, uid: string, ctx: CredentialContext, search?: string): Promise<InteractionView> {
    const details = await this.#details(req, res, uid);
    if (!details) return { kind: 'expired' };
    const appName = await this.#appName(details);
    if (details.prompt.name === 'login') {
      const pending = await this.#deps.loginFactor.pending(uid);
      return pending ? this.#factorView(uid, appName, pending) : { kind: 'login', uid, appName };
    }
    const user = details.session ? await findUserById(this.#deps.db, details.session.accountId) : undefined;
    if (details.prompt.name !== 'consent' || !user) return { kind: 'expired' };
    const scope = String(details.params.scope ?? '');
    const picker = needsPicker(user, scope.split(' ')) ? await this.#picker(user, ctx, search) : undefined;
    return {
      kind: 'consent',
      uid,
      appName,
      userKind: user.kind,
      scopes: scopeLines(scope),
      ...(user.kind === 'patient' ? { patient: user.fhirUser } : {}),
      ...(picker ? { picker } : {}),
    };
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
    const plan = await this.#deps.loginFactor.plan(user);
    if (plan.kind === 'refused') {
      // Only someone who knows the password learns that the account has no second factor yet.
      await this.#deps.credentialAudit.record(ctx, {
        action: 'login-failed',
        actor: actorOf(user),
        status: 401,
        code: 'WARD_LOGIN_FAILED',
        detail: { reason: plan.reason, via: 'authorization-server', clientId },
      });
      return { kind: 'page', status: 401, view: { kind: 'login', uid, appName, problem: 'enroll-first' } };
    }
    if (plan.kind === 'ask') {
      await this.#deps.loginFactor.begin(ctx, user, uid, plan.factors, clientId);
      const pending = await this.#deps.loginFactor.pending(uid);
      if (!pending) return { kind: 'page', status: 401, view: { kind: 'login', uid, appName, problem: 'start-again' } };
      return { kind: 'page', status: 200, view: await this.#factorView(uid, appName, pending) };
    }
    await this.#deps.credentialAudit.record(ctx, {
      action: 'login',
      actor: actorOf(user),
      status: 200,
      detail: { method: 'password', amr: plan.amr.join(' '), via: 'authorization-server', clientId },
    });
    return this.#signedIn(req, res, user.id, plan.amr);
  }

  /** The second factor of a workforce sign-in: a TOTP code (`code`) or a WebAuthn assertion (`webauthn`, JSON). */
  async factor(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: CredentialContext,
    uid: string,
    form: URLSearchParams,
  ): Promise<InteractionOutcome> {
    const details = await this.#details(req, res, uid);
    if (details?.prompt.name !== 'login') return this.#expired(ctx, 'factor');
    const appName = await this.#appName(details);
    const pending = await this.#deps.loginFactor.pending(uid);
    if (!pending) return { kind: 'page', status: 401, view: { kind: 'login', uid, appName, problem: 'start-again' } };
    const clientId = String(details.params.client_id);
    const again = async (status: number, problem: 'failed' | 'throttled', retryAfterSeconds?: number): Promise<InteractionOutcome> => ({
      kind: 'page',
      status,
      view: await this.#factorView(uid, appName, pending, problem),
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    });
    const proof = proofOf(form);
    if (!proof) {
      await this.#deps.credentialAudit.record(ctx, {
        action: 'mfa-failed',
        actor: actorOf(pending.session.user),
        status: 400,
        code: 'WARD_INVALID_REQUEST',
        detail: { reason: 'malformed-proof', via: 'authorization-server', clientId },
      });
      return again(400, 'failed');
    }
    let result: Awaited<ReturnType<SmartLoginFactor['prove']>>;
    try {
      result = await this.#deps.loginFactor.prove(ctx, uid, pending, proof, clientId);
    } catch (e) {
      // Refused, audited and counted by SecondFactor, with the same answer whatever the reason.
      if (isWardError(e) && e.status < 500) return again(401, 'failed');
      throw e;
    }
    if (result.kind === 'throttled') return again(429, 'throttled', result.retryAfterSeconds);
    return this.#signedIn(req, res, pending.session.user.id, result.amr);
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
    const context = await launchContextFor(
      { launches, picker: this.#deps.patientPicker, ctx },
      { launch: details.params.launch, user, requested, chosenPatient: form.get('patient') },
    );
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
        ...(context.picked ? { patientChosenBy: 'picker' } : {}),
      },
      { consent: { grantId } },
    );
  }

  /** The login is done: oidc-provider records the account, the methods (RFC 8176 `amr`) and auth_time by Ward's clock. */
  async #signedIn(req: IncomingMessage, res: ServerResponse, accountId: string, amr: readonly string[]): Promise<InteractionOutcome> {
    const ts = Math.floor(this.#deps.now().getTime() / 1000);
    await this.#deps.provider.interactionFinished(
      req,
      res,
      { login: { accountId, amr: [...amr], ts } },
      { mergeWithLastSubmission: false },
    );
    return { kind: 'redirected' };
  }

  async #factorView(
    uid: string,
    appName: string,
    pending: PendingSignIn,
    problem?: 'failed' | 'throttled',
  ): Promise<Extract<InteractionView, { kind: 'factor' }>> {
    const webauthn = pending.factors.webauthn ? await this.#deps.loginFactor.webauthnOptions(pending) : undefined;
    return {
      kind: 'factor',
      uid,
      appName,
      totp: pending.factors.totp,
      ...(webauthn ? { webauthn } : {}),
      ...(problem ? { problem } : {}),
    };
  }

  async #picker(user: UserRow, ctx: CredentialContext, search: string | undefined) {
    const query = pickerQuery(search);
    const choices = query ? await this.#deps.patientPicker.search(pickerPrincipal(user), ctx, query, PICKER_LIMIT) : [];
    return { query: query ?? '', choices };
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

/** A workforce user's standalone launch asks for a patient: they choose one on the consent page. */
export function needsPicker(user: Pick<UserRow, 'kind'>, requested: readonly string[]): boolean {
  return user.kind === 'workforce' && requested.includes('launch/patient') && !requested.includes('launch');
}

function proofOf(form: URLSearchParams): { code: string } | { webauthn: unknown } | undefined {
  const assertion = form.get('webauthn');
  if (assertion) {
    try {
      const parsed = JSON.parse(assertion) as Record<string, unknown> | null;
      const wellFormed =
        typeof parsed === 'object' && parsed !== null && typeof parsed.id === 'string' && typeof parsed.response === 'object';
      return wellFormed ? { webauthn: parsed } : undefined;
    } catch {
      return undefined;
    }
  }
  const code = form.get('code')?.replace(/\s/g, '');
  return code && code.length <= 64 ? { code } : undefined;
}
