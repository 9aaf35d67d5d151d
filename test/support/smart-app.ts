import * as client from 'openid-client';
import { expect } from 'vitest';
import { createClient } from '../../src/app/client-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import type { TestWard } from './engines.js';
import { Browser, formOf, injectFetch, type Page } from './smart-browser.js';

export const REDIRECT_URI = 'https://app.example/callback';
export const PASSWORD = 'copper kettle meadow 42 owls';

/** Registers an approved public SMART app (PKCE, no secret) with a scope ceiling, and discovers Ward with openid-client. */
export async function registerApp(t: TestWard, ceiling: string, name = 'Health Diary <b>') {
  const out = await createClient(t.ward, operatorPrincipal('test'), operatorContext('cli'), {
    name,
    scope: ceiling,
    redirectUris: [REDIRECT_URI],
  });
  const clientId = out.split('\n').at(-1) ?? '';
  const config = await client.discovery(
    new URL(`${t.config.baseUrl}/oauth`),
    clientId,
    { id_token_signed_response_alg: 'ES256' },
    client.None(),
    { [client.customFetch]: injectFetch(t) },
  );
  config[client.customFetch] = injectFetch(t);
  return { clientId, config };
}

/** Creates an account and sets its password through the enrollment API. */
export async function enrolledUser(
  t: TestWard,
  username: string,
  options: { roles: string[]; patient?: string; practitioner?: string },
): Promise<{ id: string }> {
  const u = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
    username,
    name: 'Launch Tester',
    roles: options.roles,
    ...(options.patient ? { patient: options.patient } : {}),
    ...(options.practitioner ? { practitioner: options.practitioner } : {}),
  });
  const res = await t.http.app.inject({ method: 'POST', url: '/auth/enroll', payload: { code: u.enrollmentCode, password: PASSWORD } });
  expect(res.statusCode).toBe(200);
  return { id: u.id };
}

export interface Authorization {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
}

/** The authorization request an app's browser is sent to, built by openid-client with PKCE S256. */
export async function authorizationRequest(
  t: TestWard,
  config: client.Configuration,
  scope: string,
  extra: Record<string, string> = {},
): Promise<Authorization> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    aud: `${t.config.baseUrl}/fhir`,
    ...extra,
  });
  return { url, verifier, state };
}

/**
 * A person in a browser: opens the authorization URL, signs in on Ward's login page, and
 * answers the consent page (approving all, some, or none of the scopes). Returns the redirect to
 * the app (or the page where it stopped) and the consent page seen.
 */
export async function signInAndConsent(
  t: TestWard,
  auth: Authorization,
  username: string,
  options: { decision?: 'approve' | 'deny'; scopes?: (offered: string[]) => string[]; password?: string; browser?: Browser } = {},
): Promise<{ final: Page; consentPage?: Page; browser: Browser }> {
  const browser = options.browser ?? new Browser(t);
  let page = await browser.follow(await browser.get(`${auth.url.pathname}${auth.url.search}`));
  if (page.status === 200 && page.body.includes('name="password"')) {
    page = await browser.post(formOf(page).action, { username, password: options.password ?? PASSWORD });
    if (page.status !== 303) return { final: page, browser };
    page = await browser.follow(page);
  }
  if (page.status !== 200 || !page.body.includes('name="decision"')) return { final: page, browser };
  const consentPage = page;
  const { action, checkboxes } = formOf(page);
  const chosen = options.scopes ? options.scopes(checkboxes) : checkboxes;
  const answered = await browser.post(action, { decision: options.decision ?? 'approve', scope: chosen });
  return { final: await browser.follow(answered), consentPage, browser };
}

/** The app's side of the redirect: openid-client checks state, iss and PKCE and exchanges the code. */
export async function exchange(config: client.Configuration, auth: Authorization, final: Page) {
  if (!final.location) throw new Error(`${final.status} ${final.body}`);
  expect(final.location).toMatch(/^https:\/\/app\.example\/callback\?/);
  return client.authorizationCodeGrant(config, new URL(final.location ?? ''), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
  });
}
