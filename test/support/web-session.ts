import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { expect } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import type { TestWard } from './engines.js';
import { type FhirClient, fhirClient } from './fhir-client.js';

/**
 * A workforce user in the web app, driven through the public `/auth/*` routes only: enrollment,
 * password + TOTP login, step-up (ADR 0010, ADR 0014). TOTP codes are computed for the Ward's
 * own (possibly fake) clock, as the user's authenticator app would show them at that moment.
 */

export const PASSWORD = 'harbour lantern 42 sandpipers';

/** What a browser holds for one session: the cookie, and the CSRF token it sends on state changes. */
export interface WebSession {
  readonly cookie: string;
  readonly csrf: string;
}

export interface WorkforceUser {
  readonly username: string;
  /** The TOTP secret Ward showed once at enrollment (the authenticator app's copy). */
  readonly secret: string;
  /** The session of the first login. */
  readonly session: WebSession;
}

export const totpAt = (secret: string, at: Date): string =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at.getTime() });

export function sessionOf(res: LightMyRequestResponse): WebSession {
  return { cookie: String(res.headers['set-cookie']).split(';')[0] ?? '', csrf: res.json().csrf_token };
}

/** A request as the browser sends it: the session cookie, and the CSRF header (ignored on GET). */
export function asBrowser(
  t: TestWard,
  session: WebSession,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  payload?: object,
): Promise<LightMyRequestResponse> {
  return t.http.app.inject({
    method,
    url,
    headers: { cookie: session.cookie, 'x-csrf-token': session.csrf },
    ...(payload ? { payload } : {}),
  });
}

/** An account created by an operator, enrolled, and through its first login with TOTP enrollment. */
export async function workforceUser(
  t: TestWard,
  username: string,
  options: { roles: string[]; practitioner: string; organization?: string },
): Promise<WorkforceUser> {
  const created = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
    username,
    name: 'Web Session User',
    roles: options.roles,
    practitioner: options.practitioner,
    ...(options.organization ? { organization: options.organization } : {}),
  });
  const enrolled = await t.http.app.inject({
    method: 'POST',
    url: '/auth/enroll',
    payload: { code: created.enrollmentCode, password: PASSWORD },
  });
  expect(enrolled.statusCode).toBe(200);
  const pending = await passwordStep(t, username);
  const issued = await asBrowser(t, pending, 'POST', '/auth/mfa/totp');
  expect(issued.statusCode).toBe(200);
  const secret = issued.json().secret as string;
  const confirmed = await asBrowser(t, pending, 'POST', '/auth/mfa/totp/confirm', { code: totpAt(secret, t.ward.now()) });
  expect(confirmed.statusCode).toBe(200);
  return { username, secret, session: sessionOf(confirmed) };
}

async function passwordStep(t: TestWard, username: string): Promise<WebSession> {
  const res = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } });
  expect(res.statusCode).toBe(200);
  return sessionOf(res);
}

/** A later login: password, then the TOTP code of this moment. The code's time step is spent. */
export async function login(t: TestWard, user: WorkforceUser): Promise<WebSession> {
  const pending = await passwordStep(t, user.username);
  const res = await asBrowser(t, pending, 'POST', '/auth/mfa/verify', { code: totpAt(user.secret, t.ward.now()) });
  expect(res.statusCode).toBe(200);
  return sessionOf(res);
}

/** `POST /auth/step-up` with a body; on success the browser's session is the new one in the answer. */
export function stepUpWith(t: TestWard, session: WebSession, body: object): Promise<LightMyRequestResponse> {
  return asBrowser(t, session, 'POST', '/auth/step-up', body);
}

/** Steps up with the TOTP code of this moment (its time step must not have been used yet) and returns the new session. */
export async function stepUp(t: TestWard, user: WorkforceUser, session: WebSession): Promise<WebSession> {
  const res = await stepUpWith(t, session, { code: totpAt(user.secret, t.ward.now()) });
  expect(res.statusCode, res.body).toBe(200);
  return sessionOf(res);
}

/** The FHIR test client, speaking as a browser session (cookie and CSRF header) instead of a bearer token. */
export function sessionClient(t: TestWard, session: WebSession): FhirClient {
  const client = fhirClient(t);
  const headers = (extra?: Record<string, string>) => ({ cookie: session.cookie, 'x-csrf-token': session.csrf, ...extra });
  return {
    call: (method, url, body, extra) => client.call(method, url, body, headers(extra)),
    get: (url, extra) => client.get(url, headers(extra)),
    post: (url, body, extra) => client.post(url, body, headers(extra)),
    put: (url, body, extra) => client.put(url, body, headers(extra)),
    patch: (url, ops, extra) => client.patch(url, ops, headers(extra)),
    delete: (url, extra) => client.delete(url, headers(extra)),
  };
}
