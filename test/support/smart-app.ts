import * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
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
  options: {
    decision?: 'approve' | 'deny';
    scopes?: (offered: string[]) => string[];
    password?: string;
    browser?: Browser;
    /** The second-factor form a workforce user fills in (`{ code }` or `{ webauthn }`); without it the walk stops at that page. */
    factor?: (page: Page) => Record<string, string>;
    /** The patient picker: what to search for, and which of the offered patient ids to choose (or any id, to forge one). */
    pick?: { search: string; choose: (offered: string[]) => string | undefined };
  } = {},
): Promise<{ final: Page; factorPage?: Page; consentPage?: Page; pickerPage?: Page; browser: Browser }> {
  const browser = options.browser ?? new Browser(t);
  let page = await browser.follow(await browser.get(`${auth.url.pathname}${auth.url.search}`));
  let factorPage: Page | undefined;
  if (page.status === 200 && page.body.includes('name="password"')) {
    page = await browser.post(formOf(page).action, { username, password: options.password ?? PASSWORD });
    if (page.status === 200 && isFactorPage(page)) {
      factorPage = page;
      if (!options.factor) return { final: page, factorPage, browser };
      page = await browser.post(formOf(page).action, options.factor(page));
    }
    if (page.status !== 303) return { final: page, ...(factorPage ? { factorPage } : {}), browser };
    page = await browser.follow(page);
  }
  const seen = factorPage ? { factorPage } : {};
  if (page.status !== 200 || !page.body.includes('name="decision"')) return { final: page, ...seen, browser };
  let consentPage = page;
  let patient: Record<string, string> = {};
  let pickerPage: Page | undefined;
  if (options.pick) {
    const self = /<form method="get" action="([^"]+)"/.exec(page.body)?.[1] ?? '';
    pickerPage = await browser.get(`${decode(self)}?q=${encodeURIComponent(options.pick.search)}`);
    consentPage = pickerPage;
    const offered = [...pickerPage.body.matchAll(/type="radio" name="patient" value="([^"]+)"/g)].map((m) => decode(m[1] ?? ''));
    const chosen = options.pick.choose(offered);
    if (chosen !== undefined) patient = { patient: chosen };
  }
  const { action, checkboxes } = formOf(consentPage);
  const chosen = options.scopes ? options.scopes(checkboxes) : checkboxes;
  const answered = await browser.post(action, { decision: options.decision ?? 'approve', scope: chosen, ...patient });
  return { final: await browser.follow(answered), ...seen, consentPage, ...(pickerPage ? { pickerPage } : {}), browser };
}

function isFactorPage(page: Page): boolean {
  return page.body.includes('name="code"') || page.body.includes('id="webauthn-form"');
}

function decode(text: string): string {
  return text.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
}

/**
 * A workforce account through its first web login: password, TOTP enrollment and confirmation.
 * Returns its authenticator (codes that Ward has not seen yet) and the web session it got.
 */
export async function workforceWithTotp(
  t: TestWard,
  username: string,
  options: { roles?: string[]; practitioner: string },
): Promise<{ id: string; totp: Authenticator; web: { cookie: string; csrf: string } }> {
  const { id } = await enrolledUser(t, username, { roles: options.roles ?? ['physician'], practitioner: options.practitioner });
  const pending = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } });
  expect(pending.json().state).toBe('mfa-enrollment-required');
  const cookie = String(pending.headers['set-cookie']).split(';')[0] ?? '';
  const headers = { cookie, 'x-csrf-token': pending.json().csrf_token as string };
  const issued = await t.http.app.inject({ method: 'POST', url: '/auth/mfa/totp', headers });
  const totp = new Authenticator(t, issued.json().secret);
  const confirmed = await t.http.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers, payload: { code: totp.code() } });
  expect(confirmed.statusCode, confirmed.body).toBe(200);
  return {
    id,
    totp,
    web: { cookie: String(confirmed.headers['set-cookie']).split(';')[0] ?? '', csrf: confirmed.json().csrf_token },
  };
}

/**
 * An authenticator app. Ward accepts a code one 30-second step either side of its clock, and
 * each step once: `code()` gives the next step Ward has not accepted yet, moving Ward's (fake)
 * clock forward when the steps within reach are used up.
 */
export class Authenticator {
  readonly #t: TestWard;
  readonly #secret: string;
  #last = 0;

  constructor(t: TestWard, secret: string) {
    this.#t = t;
    this.#secret = secret;
  }

  code(): string {
    const step = Math.floor(this.#t.ward.now().getTime() / 30_000);
    const next = Math.max(step + 1, this.#last + 1);
    // Ward's clock one step before `next`, so that `next` is within its window.
    if (next > step + 1) this.#t.setNow(new Date((next - 1) * 30_000 + 1_000));
    this.#last = next;
    return new TOTP({ secret: Secret.fromBase32(this.#secret) }).generate({ timestamp: next * 30_000 + 1_000 });
  }

  /** A code Ward has accepted already (a replay). */
  used(): string {
    return new TOTP({ secret: Secret.fromBase32(this.#secret) }).generate({ timestamp: this.#last * 30_000 + 1_000 });
  }
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
