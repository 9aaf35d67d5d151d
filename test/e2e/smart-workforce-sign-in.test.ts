import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import {
  authorizationRequest,
  enrolledUser,
  exchange,
  PASSWORD,
  registerApp,
  signInAndConsent,
  workforceWithTotp,
} from '../support/smart-app.js';
import { Browser, formOf, type Page } from '../support/smart-browser.js';
import { TestAuthenticator } from '../support/test-authenticator.js';

const CEILING = 'openid fhirUser launch launch/patient user/Patient.rs user/Observation.rs';
const SCOPE = 'openid fhirUser user/Patient.rs';

/** The WebAuthn request options the second-factor page put on its form. */
function webauthnOptionsOf(page: Page): { challenge: string; rpId: string } {
  const raw = /id="webauthn-form" data-options="([^"]+)"/.exec(page.body)?.[1] ?? '';
  return JSON.parse(raw.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))));
}

describe.each(engines())('SMART login page: workforce second factor on %s', (engine) => {
  let t: TestWard;
  let app: Awaited<ReturnType<typeof registerApp>>;

  beforeAll(async () => {
    t = await openTestWard(engine);
    app = await registerApp(t, CEILING, 'Ward Charting Aid');
  });
  afterAll(async () => t?.close());

  const rowsAfter = async (before: number) => (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);

  /** After the second factor's redirect: the consent page, approved; returns the redirect to the app. */
  async function approve(browser: Browser, afterFactor: Page): Promise<Page> {
    expect(afterFactor.status).toBe(303);
    const consent = await browser.follow(afterFactor);
    const { action, checkboxes } = formOf(consent);
    return browser.follow(await browser.post(action, { decision: 'approve', scope: checkboxes }));
  }

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a right workforce password on the login page brings the TOTP step, not consent; the consent form posted before it is refused and audited', async () => {
    const nurse = await workforceWithTotp(t, 'nurse.factor', { roles: ['nurse'], practitioner: 'Practitioner/nurse-factor' });
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    const { final, factorPage, browser } = await signInAndConsent(t, auth, 'nurse.factor');
    expect(final.status).toBe(200);
    expect(factorPage?.body).toContain('name="code"');
    expect(factorPage?.body).not.toContain('id="webauthn-form"');
    expect(factorPage?.headers['content-security-policy']).not.toContain('script-src');
    // Skipping the factor: the interaction is still at its login prompt.
    const consentUrl = formOf(final).action.replace(/\/factor$/, '/consent');
    const skipped = await browser.post(consentUrl, { decision: 'approve' });
    expect(skipped.status).toBe(400);
    expect(skipped.location).toBeUndefined();
    const rows = await rowsAfter(before);
    expect(rows.find((e) => e.action === 'mfa-challenge')).toMatchObject({
      detail: { userId: nurse.id, next: 'totp', via: 'authorization-server', clientId: app.clientId },
    });
    expect(rows.find((e) => e.action === 'oauth-request')).toMatchObject({ detail: { step: 'consent' }, outcome: { status: 400 } });
    expect(rows.some((e) => e.action === 'login' || e.action === 'consent' || e.action === 'token-grant')).toBe(false);
  });

  it('170.315(d)(13): a workforce account without a second factor is refused with a message to enroll in the web app first, audited; a wrong password for it gets the usual answer (no enumeration)', async () => {
    const { id } = await enrolledUser(t, 'dr.unenrolled', { roles: ['physician'], practitioner: 'Practitioner/dr-unenrolled' });
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const wrong = await signInAndConsent(t, auth, 'dr.unenrolled', { password: 'not the password at all' });
    const unknown = await signInAndConsent(t, await authorizationRequest(t, app.config, SCOPE), 'nobody.here', {
      password: 'not the password at all',
    });
    expect(wrong.final.status).toBe(401);
    const problemOf = (p: Page) => /role="alert">([^<]+)</.exec(p.body)?.[1];
    expect(problemOf(wrong.final)).toBe(problemOf(unknown.final));
    const before = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, await authorizationRequest(t, app.config, SCOPE), 'dr.unenrolled');
    expect(final.status).toBe(401);
    expect(final.body).toContain('needs a second factor');
    expect(final.body).toContain('web app');
    expect(final.location).toBeUndefined();
    const rows = await rowsAfter(before);
    expect(rows.find((e) => e.action === 'login-failed')).toMatchObject({
      detail: { userId: id, reason: 'second-factor-not-enrolled', via: 'authorization-server', clientId: app.clientId },
      outcome: { status: 401 },
    });
    expect(rows.some((e) => ['login', 'mfa-challenge', 'consent', 'token-grant'].includes(e.action))).toBe(false);
  });

  it('170.315(d)(13) (replay): a TOTP code already used at the web login is refused on the login page and audited; a fresh code then signs in', async () => {
    const dr = await workforceWithTotp(t, 'dr.replay', { practitioner: 'Practitioner/dr-replay' });
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    const replayed = await signInAndConsent(t, auth, 'dr.replay', { factor: () => ({ code: dr.totp.used() }) });
    expect(replayed.final.status).toBe(401);
    expect(replayed.final.body).toContain('name="code"');
    const page = await replayed.browser.post(formOf(replayed.final).action, { code: dr.totp.code() });
    const tokens = await exchange(app.config, auth, await approve(replayed.browser, page));
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp']);
    const rows = await rowsAfter(before);
    expect(rows.filter((e) => e.action === 'mfa-failed').map((e) => [e.detail.factor, e.detail.reason])).toEqual([
      ['totp', 'replayed-code'],
    ]);
    expect(rows.find((e) => e.action === 'mfa-failed')?.where.route).toBe('/oauth/interaction/:uid/factor');
  });

  it('[NIST] 800-63B-4 §3.2.2: wrong codes on the login page count in the account throttle with the password try — after 5 even the right code waits (429) — each audited; once the wait is over the right code signs in', async () => {
    const dr = await workforceWithTotp(t, 'dr.guesser', { practitioner: 'Practitioner/dr-guesser' });
    t.setNow(t.ward.now());
    try {
      // Taken first: the authenticator may move Ward's (now still) clock to reach a fresh step.
      const right = dr.totp.code();
      const auth = await authorizationRequest(t, app.config, SCOPE);
      const before = await lastAuditSeq(t.ward);
      const { final, browser } = await signInAndConsent(t, auth, 'dr.guesser');
      const action = formOf(final).action;
      for (let i = 0; i < 4; i++) expect((await browser.post(action, { code: '000000' })).status).toBe(401);
      const waiting = await browser.post(action, { code: right });
      expect(waiting.status).toBe(429);
      expect(waiting.headers['retry-after']).toBe('1');
      const rows = await rowsAfter(before);
      expect(rows.filter((e) => e.action === 'mfa-failed').map((e) => [e.outcome.status, e.detail.reason, e.detail.failures])).toEqual([
        [401, 'wrong-code', '2'],
        [401, 'wrong-code', '3'],
        [401, 'wrong-code', '4'],
        [401, 'wrong-code', '5'],
        [429, 'backing-off', '5'],
      ]);
      t.setNow(new Date(t.ward.now().getTime() + 2_000));
      expect((await browser.post(action, { code: right })).status).toBe(303);
    } finally {
      t.setNow(null);
    }
  });

  it('[NIST] 800-63B-4 §2.2.2 · 170.315(d)(13): a clinician with a security key signs in with a WebAuthn assertion (ID token amr pwd hwk); one made for another origin is refused and audited', async () => {
    const dr = await workforceWithTotp(t, 'dr.key', { practitioner: 'Practitioner/dr-key' });
    const key = new TestAuthenticator('https://ward.test', 'ward.test');
    const session = { cookie: dr.web.cookie, 'x-csrf-token': dr.web.csrf };
    const options = (await t.http.app.inject({ method: 'POST', url: '/auth/webauthn/register/options', headers: session })).json();
    const registered = await t.http.app.inject({
      method: 'POST',
      url: '/auth/webauthn/register',
      headers: session,
      payload: key.create(options),
    });
    expect(registered.statusCode).toBe(200);

    const auth = await authorizationRequest(t, app.config, SCOPE);
    const before = await lastAuditSeq(t.ward);
    const phished = await signInAndConsent(t, auth, 'dr.key', {
      factor: (page) => ({ webauthn: JSON.stringify(key.get(webauthnOptionsOf(page), { origin: 'https://ward.test.evil.example' })) }),
    });
    expect(phished.final.status).toBe(401);
    expect(phished.factorPage?.headers['content-security-policy']).toMatch(/script-src 'nonce-[^']+'/);
    expect(phished.final.body).toContain('id="webauthn-form"');
    const assertion = key.get(webauthnOptionsOf(phished.final));
    const done = await phished.browser.post(formOf(phished.final).action, { webauthn: JSON.stringify(assertion) });
    const tokens = await exchange(app.config, auth, await approve(phished.browser, done));
    expect(tokens.claims()?.amr).toEqual(['pwd', 'hwk']);
    const rows = await rowsAfter(before);
    expect(rows.find((e) => e.action === 'mfa-failed')).toMatchObject({ detail: { factor: 'webauthn', reason: 'webauthn-not-verified' } });
    expect(rows.find((e) => e.action === 'login')).toMatchObject({ detail: { method: 'password+webauthn', amr: 'pwd hwk' } });
  });

  it('[NPRM] 164.308 workforce termination: a clinician deactivated between password and second factor is not signed in, even with a right code', async () => {
    const dr = await workforceWithTotp(t, 'dr.leaving', { practitioner: 'Practitioner/dr-leaving' });
    const auth = await authorizationRequest(t, app.config, SCOPE);
    const browser = new Browser(t);
    const { final } = await signInAndConsent(t, auth, 'dr.leaving', { browser });
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'dr.leaving');
    const page = await browser.post(formOf(final).action, { code: dr.totp.code() });
    expect(page.status).toBe(401);
    expect(page.location).toBeUndefined();
    expect(page.body).toContain('name="password"');
    expect(page.body).not.toContain(PASSWORD);
  });
});
