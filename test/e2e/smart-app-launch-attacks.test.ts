import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import {
  type Authorization,
  authorizationRequest,
  enrolledUser,
  exchange,
  PASSWORD,
  REDIRECT_URI,
  registerApp,
  signInAndConsent,
  workforceWithTotp,
} from '../support/smart-app.js';
import { Browser } from '../support/smart-browser.js';

const CEILING = 'openid fhirUser launch launch/patient offline_access patient/Patient.rs patient/Observation.rs';

describe.each(engines())('SMART App Launch attacks on %s', (engine) => {
  let t: TestWard;
  let patientA: string;
  let patientB: string;
  let app: Awaited<ReturnType<typeof registerApp>>;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const writer = fhirClient(t, await t.token(SERVICE));
    patientA = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Attack-Alpha' }] })).body.id;
    patientB = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Attack-Bravo-Secret' }] })).body.id;
    await writer.post('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: `Patient/${patientB}` },
    });
    await enrolledUser(t, 'alpha.attack', { roles: ['patient'], patient: patientA });
    await enrolledUser(t, 'dr.attack', { roles: ['physician'], practitioner: 'Practitioner/pr-attack' });
    app = await registerApp(t, CEILING);
  });
  afterAll(async () => t?.close());

  /** A code the app's redirect carries, after the patient signed in and approved. */
  async function codeFor(scope = 'launch/patient patient/Patient.rs'): Promise<{ auth: Authorization; code: string; location: string }> {
    const auth = await authorizationRequest(t, app.config, scope);
    const { final } = await signInAndConsent(t, auth, 'alpha.attack');
    const location = final.location ?? '';
    return { auth, code: new URL(location).searchParams.get('code') ?? '', location };
  }

  async function tokenPost(form: Record<string, string>) {
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ client_id: app.clientId, ...form }).toString(),
    });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  }

  async function deniedRow(before: number, action = 'token-denied') {
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    return rows.find((e) => e.action === action);
  }

  it('170.315(g)(10)(v)(A) · 170.315(d)(1): a replayed authorization code is refused, and the tokens from its first use are revoked; audited', async () => {
    const { auth, code } = await codeFor();
    const first = await tokenPost({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier });
    expect(first.status).toBe(200);
    expect((await fhirClient(t, first.body.access_token).get(`Patient/${patientA}`)).status).toBe(200);
    const before = await lastAuditSeq(t.ward);
    const replay = await tokenPost({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: auth.verifier });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await fhirClient(t, first.body.access_token).get(`Patient/${patientA}`)).status).toBe(401);
    expect(await deniedRow(before)).toMatchObject({ who: { clientId: app.clientId }, outcome: { status: 400 } });
  });

  it.each([
    ['a missing PKCE verifier', (_v: string) => ({})],
    ['a wrong PKCE verifier', (_v: string) => ({ code_verifier: client.randomPKCECodeVerifier() })],
  ])('170.315(g)(10)(v)(A): a code exchanged with %s is refused (invalid_grant), audited', async (_name, verifier) => {
    const { auth, code } = await codeFor();
    const before = await lastAuditSeq(t.ward);
    const res = await tokenPost({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, ...verifier(auth.verifier) });
    expect(res.body.access_token).toBeUndefined();
    expect(['invalid_grant', 'invalid_request']).toContain(res.body.error);
    expect(await deniedRow(before)).toMatchObject({ who: { clientId: app.clientId } });
  });

  it('170.315(g)(10)(v)(A): a code exchanged with another redirect_uri is refused, audited', async () => {
    const { auth, code } = await codeFor();
    const before = await lastAuditSeq(t.ward);
    const res = await tokenPost({
      grant_type: 'authorization_code',
      code,
      redirect_uri: 'https://app.example/other',
      code_verifier: auth.verifier,
    });
    expect(res.body.error).toBe('invalid_grant');
    expect((await deniedRow(before))?.detail.reason).toMatch(/redirect_uri/);
  });

  async function authorizeDirect(params: Record<string, string>) {
    const url = new URL(`${t.config.baseUrl}/oauth/auth`);
    const base: Record<string, string> = {
      client_id: app.clientId,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'launch/patient patient/Patient.rs',
      aud: `${t.config.baseUrl}/fhir`,
      state: 'st',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries({ ...base, ...params })) if (v !== '') url.searchParams.set(k, v);
    const before = await lastAuditSeq(t.ward);
    const page = await new Browser(t).get(`${url.pathname}${url.search}`);
    return { page, row: await deniedRow(before, 'authorize') };
  }

  it.each([
    ['no PKCE challenge', { code_challenge: '', code_challenge_method: '' }, 'invalid_request'],
    ['the plain PKCE method', { code_challenge_method: 'plain' }, 'invalid_request'],
    ["an aud that is not Ward's FHIR base", { aud: 'https://evil.example/fhir' }, 'invalid_request'],
    ['no aud', { aud: '' }, 'invalid_request'],
    ['a scope beyond the client ceiling', { scope: 'launch/patient patient/Condition.rs' }, 'invalid_scope'],
    ['write access beyond the ceiling', { scope: 'patient/Patient.cruds' }, 'invalid_scope'],
    ['the launch scope with an unknown launch id', { scope: 'launch patient/Patient.rs', launch: 'x'.repeat(43) }, 'invalid_request'],
  ])('170.315(g)(10)(v)(A): an authorization request with %s is refused back to the app and audited', async (_name, params, error) => {
    const { page, row } = await authorizeDirect(params as Record<string, string>);
    expect(page.status).toBe(303);
    const back = new URL(page.location ?? '');
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT_URI);
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('code')).toBeNull();
    expect(row).toMatchObject({ who: { clientId: app.clientId }, outcome: { code: `oauth:${error}` }, detail: { result: 'error' } });
  });

  it('170.315(g)(10)(v)(A): an unregistered redirect_uri is never redirected to; the refusal is shown by Ward and audited', async () => {
    const { page, row } = await authorizeDirect({ redirect_uri: 'https://evil.example/callback' });
    expect(page.status).toBe(400);
    expect(page.location).toBeUndefined();
    expect(page.body).toContain('invalid_redirect_uri');
    expect(row).toMatchObject({ who: { clientId: app.clientId }, outcome: { status: 400 }, detail: { result: 'error' } });
  });

  it('[NPRM] 164.308 workforce termination · 164.312(d): a deactivated user cannot sign in on the login page; the refusal is audited as deactivated', async () => {
    await enrolledUser(t, 'leaving.patient', { roles: ['patient'], patient: patientA });
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'leaving.patient');
    const auth = await authorizationRequest(t, app.config, 'launch/patient patient/Patient.rs');
    const before = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, auth, 'leaving.patient');
    expect(final.status).toBe(401);
    expect(final.body).toContain('The username or password is not correct.');
    expect(await deniedRow(before, 'login-failed')).toMatchObject({ detail: { reason: 'deactivated' } });
  });

  it('[NPRM] 164.308 workforce termination: deactivating a user revokes their app tokens at once (401) and refresh fails', async () => {
    await enrolledUser(t, 'soon.gone', { roles: ['patient'], patient: patientA });
    const auth = await authorizationRequest(t, app.config, 'launch/patient offline_access patient/Patient.rs');
    const { final } = await signInAndConsent(t, auth, 'soon.gone');
    const tokens = await exchange(app.config, auth, final);
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'soon.gone');
    expect((await fhirClient(t, tokens.access_token).get(`Patient/${patientA}`)).status).toBe(401);
    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it("[NPRM] 164.308 workforce termination · 164.312(d): a deactivated user's Ward login token (JWT) is refused at once (401, audited), and reactivating the account does not bring it back", async () => {
    await enrolledUser(t, 'jwt.leaver', { roles: ['patient'], patient: patientA });
    const login = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'jwt.leaver', password: PASSWORD } });
    const token = login.json().access_token as string;
    expect(token.split('.')).toHaveLength(3);
    const api = fhirClient(t, token);
    expect((await api.get(`Patient/${patientA}`)).status).toBe(200);
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'jwt.leaver');
    const before = await lastAuditSeq(t.ward);
    const refused = await api.get(`Patient/${patientA}`);
    expect(refused.status).toBe(401);
    expect(refused.raw.body).not.toContain('Attack-Alpha');
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: { status: 401, code: 'WARD_UNAUTHENTICATED' } });
    // Reactivated later (the privilege ledger records when): the token issued before stays dead.
    try {
      t.setNow(new Date(Date.now() + 2_000));
      await t.ward.identity.accounts.reactivate(operatorPrincipal('test').id, operatorContext('cli'), 'jwt.leaver');
      expect((await api.get(`Patient/${patientA}`)).status).toBe(401);
      const fresh = await t.http.app.inject({
        method: 'POST',
        url: '/auth/login',
        payload: { username: 'jwt.leaver', password: PASSWORD },
      });
      expect((await fhirClient(t, fresh.json().access_token).get(`Patient/${patientA}`)).status).toBe(200);
    } finally {
      t.setNow(null);
    }
    // Operator tokens name no account and are not affected.
    expect((await fhirClient(t, await t.token(SERVICE)).get(`Patient/${patientA}`)).status).toBe(200);
  });

  it("170.315(g)(10)(v)(A): an EHR launch id issued to one clinician, carried to another clinician's sign-in, is refused (access_denied) and audited", async () => {
    const owner = await workforceWithTotp(t, 'dr.launcher', { practitioner: 'Practitioner/pr-launcher' });
    const thief = await workforceWithTotp(t, 'dr.borrower', { practitioner: 'Practitioner/pr-borrower' });
    const launched = await t.http.app.inject({
      method: 'POST',
      url: '/auth/launch',
      headers: { cookie: owner.web.cookie, 'x-csrf-token': owner.web.csrf },
      payload: { client_id: app.clientId, patient: patientB },
    });
    expect(launched.statusCode).toBe(201);
    const auth = await authorizationRequest(t, app.config, 'launch openid patient/Patient.rs', { launch: launched.json().launch });
    const before = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, auth, 'dr.borrower', { factor: () => ({ code: thief.totp.code() }) });
    const back = new URL(final.location ?? 'https://x.invalid');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('code')).toBeNull();
    expect(await deniedRow(before, 'consent')).toMatchObject({
      who: { id: 'Practitioner/pr-borrower', clientId: app.clientId },
      outcome: { status: 403 },
      detail: { decision: 'denied', reason: 'launch-other-user' },
    });
    expect(await deniedRow(before, 'token-grant')).toBeUndefined();
  });

  it('164.312(a)(1) (compartment): a patient app token gets nothing of another patient, and the refusal is audited', async () => {
    const auth = await authorizationRequest(t, app.config, 'launch/patient patient/Patient.rs patient/Observation.rs');
    const { final } = await signInAndConsent(t, auth, 'alpha.attack');
    const tokens = await exchange(app.config, auth, final);
    const api = fhirClient(t, tokens.access_token);
    const before = await lastAuditSeq(t.ward);
    const read = await api.get(`Patient/${patientB}`);
    expect([403, 404]).toContain(read.status);
    expect(read.raw.body).not.toContain('Attack-Bravo-Secret');
    const search = await api.get(`Observation?patient=${patientB}`);
    expect(JSON.stringify(search.body)).not.toContain(patientB.length > 0 ? `Patient/${patientB}` : 'never');
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows[0]).toMatchObject({ who: { id: `Patient/${patientA}`, clientId: app.clientId }, outcome: { status: read.status } });
  });

  it('170.315(g)(10)(v)(A): a patient cannot mint EHR launch ids', async () => {
    const patientLogin = await t.http.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'alpha.attack', password: 'copper kettle meadow 42 owls' },
    });
    const refused = await t.http.app.inject({
      method: 'POST',
      url: '/auth/launch',
      headers: { authorization: `Bearer ${patientLogin.json().access_token}` },
      payload: { client_id: app.clientId, patient: patientB },
    });
    expect(refused.statusCode).toBe(403);
  });

  it('[NIST] 800-63B-4 §5.1: a login form posted from another origin is refused and audited', async () => {
    const auth = await authorizationRequest(t, app.config, 'launch/patient patient/Patient.rs');
    const b = new Browser(t);
    const page = await b.follow(await b.get(`${auth.url.pathname}${auth.url.search}`));
    const action = /action="([^"]+)"/.exec(page.body)?.[1] ?? '';
    const before = await lastAuditSeq(t.ward);
    const res = await t.http.app.inject({
      method: 'POST',
      url: action,
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      payload: 'username=alpha.attack&password=x',
    });
    expect(res.statusCode).toBe(403);
    expect((await auditRowsAfter(t.ward, before)).map((r) => r.parsed.outcome.status)).toEqual([403]);
  });
});
