import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { CredentialContext, CurrentSession, Identity, IssuedSession, SessionState } from '../identity/index.js';
import { PUBLIC, route } from './routes.js';
import { clearSessionCookie, readCsrfHeader, readSessionCookie, setSessionCookie } from './session-cookie.js';

/** A login or enrollment body is a few hundred bytes; anonymous callers get no more than this. */
const AUTH_BODY_LIMIT_BYTES = 16 * 1024;

export type AuthIdentity = Pick<
  Identity,
  'login' | 'enrollment' | 'secondFactor' | 'sessions' | 'passwordChange' | 'webauthn' | 'complianceReport'
>;

/**
 * Login, enrollment, the second factor and the user's own sessions. They are PUBLIC to the
 * bearer-token hook because they are how a principal comes to exist: the routes that act on a
 * session resolve it themselves through identity (state, lifetime, CSRF), and the identity layer
 * audits every outcome, with the source address. Answers are never cached.
 */
export function registerAuthRoutes(app: FastifyInstance, identity: AuthIdentity): void {
  const authRoute = (
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    handler: (ctx: CredentialContext, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) =>
    route(app, {
      method,
      url,
      action: PUBLIC,
      bodyLimit: AUTH_BODY_LIMIT_BYTES,
      handler: async (request, reply) => {
        reply.header('cache-control', 'no-store');
        return handler(contextOf(request), request, reply);
      },
    });
  // `passwordChange: 'allowed'` only where a session whose password is marked compromised may go:
  // the change, logout and the session's own status. Everything else answers 403.
  const session = (
    request: FastifyRequest,
    states: readonly SessionState[],
    options: { activity?: boolean; passwordChange?: 'allowed' } = {},
  ): Promise<CurrentSession> =>
    identity.sessions.current(
      readSessionCookie(request),
      { method: request.method, csrfHeader: readCsrfHeader(request), activity: options.activity ?? true, ...options },
      states,
    );
  const issue = (reply: FastifyReply, issued: IssuedSession, extra: Record<string, unknown> = {}) => {
    setSessionCookie(reply, issued.id, issued.lifetimeSeconds);
    return {
      state: issued.state,
      csrf_token: issued.csrfToken,
      expires_at: issued.expiresAt.toISOString(),
      ...(issued.passwordChangeRequired ? { password_change_required: true } : {}),
      ...extra,
    };
  };

  authRoute('POST', '/auth/login', async (ctx, request, reply) => {
    const result = await identity.login.login(ctx, request.body, readSessionCookie(request));
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    if (result.kind === 'second-factor') return { ...issue(reply, result.session), state: result.state };
    // The token response of RFC 6749 §5.1, so OAuth clients read it as they read any token response.
    return { access_token: result.accessToken, token_type: 'Bearer', expires_in: result.expiresIn, scope: result.scope };
  });
  authRoute('POST', '/auth/enroll', async (ctx, request) => {
    await identity.enrollment.redeem(ctx, request.body);
    return { enrolled: true };
  });
  authRoute('POST', '/auth/mfa/totp', async (ctx, request) => {
    const { secret, uri } = await identity.secondFactor.beginTotpEnrollment(ctx, await session(request, ['mfa-enrollment']));
    return { secret, otpauth_uri: uri };
  });
  authRoute('POST', '/auth/mfa/totp/confirm', async (ctx, request, reply) => {
    const result = await identity.secondFactor.confirmTotpEnrollment(ctx, await session(request, ['mfa-enrollment']), request.body);
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    return issue(reply, result.session, { recovery_codes: result.recoveryCodes });
  });
  authRoute('POST', '/auth/mfa/verify', async (ctx, request, reply) => {
    const result = await identity.secondFactor.verify(ctx, await session(request, ['mfa-pending']), request.body);
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    return issue(reply, result.session);
  });
  authRoute('POST', '/auth/webauthn/register/options', async (_ctx, request) =>
    identity.webauthn.registrationOptions(await session(request, ['authenticated'])),
  );
  authRoute('POST', '/auth/webauthn/register', async (ctx, request) => {
    const { credentialId } = await identity.webauthn.register(ctx, await session(request, ['authenticated']), request.body);
    return { registered: true, credential_id: credentialId };
  });
  authRoute('POST', '/auth/mfa/webauthn/options', async (_ctx, request) =>
    identity.webauthn.authenticationOptions(await session(request, ['mfa-pending'])),
  );
  authRoute('POST', '/auth/mfa/webauthn', async (ctx, request, reply) => {
    const result = await identity.secondFactor.verifyWebauthn(ctx, await session(request, ['mfa-pending']), request.body);
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    return issue(reply, result.session);
  });
  // Step-up (ADR 0014): a signed-in user proves the second factor again before a sensitive
  // operation; the session is replaced by one stamped with the time and method.
  authRoute('POST', '/auth/step-up/webauthn/options', async (_ctx, request) =>
    identity.webauthn.authenticationOptions(await session(request, ['authenticated'])),
  );
  authRoute('POST', '/auth/step-up', async (ctx, request, reply) => {
    const result = await identity.secondFactor.stepUp(ctx, await session(request, ['authenticated']), request.body);
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    const stepUp = result.session.stepUp;
    return issue(reply, result.session, { step_up: stepUp?.method, step_up_at: stepUp?.at.toISOString() });
  });
  authRoute('POST', '/auth/password', async (ctx, request, reply) => {
    const result = await identity.passwordChange.change(
      ctx,
      await session(request, ['authenticated'], { passwordChange: 'allowed' }),
      request.body,
    );
    if (result.kind === 'throttled') throttled(reply, result.retryAfterSeconds);
    return issue(reply, result.session, { sessions_revoked: result.sessionsRevoked });
  });
  authRoute('GET', '/auth/session', async (_ctx, request) => {
    // Asking how long the session has left is not activity: a page polling it must not keep an unattended session alive.
    const current = await session(request, ['mfa-enrollment', 'mfa-pending', 'authenticated'], {
      activity: false,
      passwordChange: 'allowed',
    });
    const { idleExpiresAt, expiresAt } = identity.sessions.limitsOf(current.row);
    return {
      state: current.row.state,
      csrf_token: current.csrfToken,
      expires_at: expiresAt.toISOString(),
      idle_expires_at: idleExpiresAt.toISOString(),
      ...(current.passwordChangeRequired ? { password_change_required: true } : {}),
      ...(current.row.stepUp ? { step_up: current.row.stepUp.method, step_up_at: current.row.stepUp.at.toISOString() } : {}),
    };
  });
  authRoute('GET', '/auth/sessions', async (_ctx, request) => {
    const current = await session(request, ['authenticated']);
    const sessions = await identity.sessions.list(current.user.id);
    return {
      sessions: sessions.map((s) => ({
        id: s.handle,
        current: s.handle === current.row.handle,
        created_at: s.createdAt.toISOString(),
        last_seen_at: s.lastSeenAt.toISOString(),
        expires_at: s.expiresAt.toISOString(),
        ...(s.createdAddress ? { address: s.createdAddress } : {}),
      })),
    };
  });
  authRoute('DELETE', '/auth/sessions/:handle', async (ctx, request, reply) => {
    const current = await session(request, ['authenticated']);
    const { handle } = request.params as { handle: string };
    await identity.sessions.revokeOwn(ctx, current, handle);
    if (handle === current.row.handle) clearSessionCookie(reply);
    return { revoked: true };
  });
  authRoute('POST', '/auth/logout', async (ctx, request, reply) => {
    await identity.sessions.logout(
      ctx,
      await session(request, ['mfa-enrollment', 'mfa-pending', 'authenticated'], { passwordChange: 'allowed' }),
    );
    clearSessionCookie(reply);
    return { logged_out: true };
  });
}

function throttled(reply: FastifyReply, retryAfterSeconds: number): never {
  reply.header('retry-after', String(retryAfterSeconds));
  throw new WardError('WARD_LOGIN_THROTTLED');
}

function contextOf(request: FastifyRequest): CredentialContext {
  if (!request.wardCtx) throw new WardError('WARD_INTERNAL');
  return request.wardCtx;
}
