import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';
import {
  authorizationRequest,
  enrolledUser,
  exchange,
  PASSWORD,
  registerApp,
  signInAndConsent,
  workforceWithTotp,
} from '../support/smart-app.js';

const CEILING =
  'openid fhirUser launch launch/patient offline_access online_access patient/*.rs patient/*.read patient/Observation.rs patient/Patient.rs user/Patient.rs user/Observation.rs';

describe.each(engines())('SMART App Launch (authorization code) on %s', (engine) => {
  let t: TestWard;
  let patientA: string;
  let patientB: string;
  let obsA: string;
  let obsB: string;
  let doctor: Awaited<ReturnType<typeof workforceWithTotp>>;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const writer = fhirClient(t, await t.token(SERVICE));
    patientA = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Launch-Alpha' }] })).body.id;
    patientB = (await writer.post('Patient', { resourceType: 'Patient', name: [{ family: 'Launch-Bravo' }] })).body.id;
    const obs = (patient: string, code: string) => ({
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code }] }],
      code: { text: 'Heart rate' },
      subject: { reference: `Patient/${patient}` },
    });
    obsA = (await writer.post('Observation', obs(patientA, 'vital-signs'))).body.id;
    obsB = (await writer.post('Observation', obs(patientB, 'vital-signs'))).body.id;
    // The clinician is on patient B's care team: the vault lets them (and their apps) see B only.
    await writer.post('CareTeam', careTeam(patientB, 'Practitioner/pr-smart'));
    await enrolledUser(t, 'alpha.patient', { roles: ['patient'], patient: patientA });
    doctor = await workforceWithTotp(t, 'dr.launch', { practitioner: 'Practitioner/pr-smart' });
  });
  afterAll(async () => t?.close());

  it("170.315(g)(10)(v)(A) · 170.215(c)(2): a standalone patient launch with openid-client reads the patient's own Patient and Observation; the token response carries patient and fhirUser", async () => {
    const app = await registerApp(t, CEILING);
    const auth = await authorizationRequest(t, app.config, 'openid fhirUser launch/patient patient/Patient.rs patient/Observation.rs');
    const { final, consentPage } = await signInAndConsent(t, auth, 'alpha.patient');
    expect(consentPage?.body).toContain('Read and search your observations');
    expect(consentPage?.body).toContain('Health Diary &#60;b&#62;');
    expect(consentPage?.headers['content-security-policy']).toMatch(/style-src 'nonce-[^']+'/);
    const tokens = await exchange(app.config, auth, final);
    expect(tokens).toMatchObject({ token_type: 'bearer', patient: patientA, need_patient_banner: true });
    expect(tokens.scope?.split(' ').sort()).toEqual([
      'fhirUser',
      'launch/patient',
      'openid',
      'patient/Observation.rs',
      'patient/Patient.rs',
    ]);
    expect(tokens.claims()?.fhirUser).toBe(`${t.config.baseUrl}/fhir/Patient/${patientA}`);
    expect(tokens.refresh_token).toBeUndefined();
    const metadata = await fhirClient(t).get('metadata');
    const uris = metadata.body.rest[0].security.extension[0];
    expect(uris.url).toBe('http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(uris.extension).toContainEqual({ url: 'authorize', valueUri: `${t.config.baseUrl}/oauth/auth` });
    const api = fhirClient(t, tokens.access_token);
    expect((await api.get(`Patient/${patientA}`)).body.name[0].family).toBe('Launch-Alpha');
    const search = await api.get(`Observation?patient=${patientA}`);
    expect(search.status).toBe(200);
    expect(search.body.entry.map((e: any) => e.resource.id)).toEqual([obsA]);
  });

  async function loginToken(username: string): Promise<string> {
    const res = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } });
    expect(res.statusCode).toBe(200);
    return res.json().access_token;
  }

  it('170.315(g)(10)(v)(A) · 170.215(c)(2) · 170.315(d)(13): an EHR launch — a clinician opens the app from Ward for a patient and encounter, signs in on the login page with password and TOTP, and the single-use launch id brings that context into the token; the app reads Patient and Observation', async () => {
    const app = await registerApp(t, CEILING, 'Ward Charting Aid');
    const before = await lastAuditSeq(t.ward);
    const launched = await t.http.app.inject({
      method: 'POST',
      url: '/auth/launch',
      headers: { cookie: doctor.web.cookie, 'x-csrf-token': doctor.web.csrf },
      payload: { client_id: app.clientId, patient: patientB, encounter: 'enc-launch-1' },
    });
    expect(launched.statusCode, launched.body).toBe(201);
    const { launch } = launched.json();
    const auth = await authorizationRequest(t, app.config, 'launch openid fhirUser user/Patient.rs user/Observation.rs', { launch });
    const { final, factorPage } = await signInAndConsent(t, auth, 'dr.launch', { factor: () => ({ code: doctor.totp.code() }) });
    expect(factorPage?.body).toContain('name="code"');
    const tokens = await exchange(app.config, auth, final);
    expect(tokens).toMatchObject({ patient: patientB, encounter: 'enc-launch-1', need_patient_banner: true });
    const claims = tokens.claims();
    expect(claims?.fhirUser).toBe(`${t.config.baseUrl}/fhir/Practitioner/pr-smart`);
    expect(claims?.amr).toEqual(['pwd', 'otp']);
    expect(Math.abs(Number(claims?.auth_time) - t.ward.now().getTime() / 1000)).toBeLessThan(120);
    const api = fhirClient(t, tokens.access_token);
    expect((await api.get(`Patient/${patientB}`)).body.name[0].family).toBe('Launch-Bravo');
    expect((await api.get(`Observation/${obsB}`)).status).toBe(200);
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    const actions = rows.map((e) => e.action);
    for (const a of ['launch-create', 'authorize', 'mfa-challenge', 'login', 'consent', 'token-grant', 'read'])
      expect(actions).toContain(a);
    expect(rows.find((e) => e.action === 'launch-create')).toMatchObject({
      who: { clientId: app.clientId },
      detail: { patient: patientB },
    });
    expect(rows.find((e) => e.action === 'login')).toMatchObject({
      detail: { method: 'password+totp', amr: 'pwd otp', via: 'authorization-server', clientId: app.clientId },
    });
    expect(rows.find((e) => e.action === 'consent')).toMatchObject({ detail: { decision: 'approved', patient: patientB } });
    expect(JSON.stringify(rows)).not.toContain(launch);
    // Single use: the same launch id cannot start a second authorization.
    const again = await authorizationRequest(t, app.config, 'launch openid user/Patient.rs', { launch });
    const { final: refused } = await signInAndConsent(t, again, 'dr.launch', { factor: () => ({ code: doctor.totp.code() }) });
    expect(new URL(refused.location ?? 'https://x.invalid').searchParams.get('error')).toBe('invalid_request');
  });

  it('170.315(g)(10)(v)(A) · 170.215(c)(2): granular scopes — a user who unticks Observation on the consent page gets a token without it', async () => {
    const app = await registerApp(t, CEILING);
    const auth = await authorizationRequest(t, app.config, 'launch/patient patient/Patient.rs patient/Observation.rs?category=vital-signs');
    const { final, consentPage } = await signInAndConsent(t, auth, 'alpha.patient', {
      scopes: (offered) => offered.filter((s) => !s.startsWith('patient/Observation')),
    });
    expect(consentPage?.body).toContain('only where category is vital-signs');
    const tokens = await exchange(app.config, auth, final);
    expect(tokens.scope?.split(' ').sort()).toEqual(['launch/patient', 'patient/Patient.rs']);
    const api = fhirClient(t, tokens.access_token);
    expect((await api.get(`Patient/${patientA}`)).status).toBe(200);
    expect((await api.get(`Observation/${obsA}`)).status).toBe(403);
  });

  it('170.315(g)(10)(v)(A) (refresh): a patient app with offline_access refreshes at day 89, each use rotating the refresh token for a new period; the old one presented again revokes the whole family', async () => {
    const app = await registerApp(t, CEILING);
    const auth = await authorizationRequest(t, app.config, 'launch/patient offline_access patient/Observation.rs');
    const { final } = await signInAndConsent(t, auth, 'alpha.patient');
    const first = await exchange(app.config, auth, final);
    expect(first.refresh_token).toBeDefined();
    const start = Date.now();
    try {
      t.setNow(new Date(start + 89 * 24 * 3600 * 1000));
      const second = await client.refreshTokenGrant(app.config, first.refresh_token ?? '');
      expect(second.refresh_token).toBeDefined();
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expect(second.patient).toBe(patientA);
      expect((await fhirClient(t, second.access_token).get(`Observation/${obsA}`)).status).toBe(200);
      t.setNow(new Date(start + 170 * 24 * 3600 * 1000));
      const third = await client.refreshTokenGrant(app.config, second.refresh_token ?? '');
      expect((await fhirClient(t, third.access_token).get(`Observation/${obsA}`)).status).toBe(200);
      // Reuse of a rotated refresh token: refused, and every token of the grant dies with it.
      const before = await lastAuditSeq(t.ward);
      await expect(client.refreshTokenGrant(app.config, second.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(client.refreshTokenGrant(app.config, third.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await fhirClient(t, third.access_token).get(`Observation/${obsA}`)).status).toBe(401);
      const denied = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed).filter((e) => e.action === 'token-denied');
      expect(denied[0]).toMatchObject({
        who: { clientId: app.clientId },
        detail: { grantType: 'refresh_token', reason: 'refresh token already used' },
      });
      // And after more than 92 days without use, a refresh token has expired.
      const lapsed = await exchange(app.config, ...(await freshGrant(app)));
      t.setNow(new Date(start + 170 * 24 * 3600 * 1000 + 93 * 24 * 3600 * 1000));
      await expect(client.refreshTokenGrant(app.config, lapsed.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
    } finally {
      t.setNow(null);
    }
  });

  async function freshGrant(app: Awaited<ReturnType<typeof registerApp>>) {
    const auth = await authorizationRequest(t, app.config, 'launch/patient offline_access patient/Observation.rs');
    const { final } = await signInAndConsent(t, auth, 'alpha.patient');
    return [auth, final] as const;
  }

  it('170.315(g)(10)(vi): a patient lists their connected apps and revokes one — its access token gets 401 and its refresh token invalid_grant at once; both audited; an app cannot use these routes', async () => {
    const app = await registerApp(t, CEILING, 'Step Counter');
    const tokens = await exchange(app.config, ...(await freshGrant(app)));
    const patientLogin = await loginToken('alpha.patient');
    const listed = await t.http.app.inject({ method: 'GET', url: '/auth/apps', headers: { authorization: `Bearer ${patientLogin}` } });
    expect(listed.statusCode).toBe(200);
    const mine = listed.json().apps.find((a: any) => a.clientId === app.clientId);
    expect(mine).toMatchObject({ name: 'Step Counter' });
    expect(mine.scopes).toEqual(expect.arrayContaining(['offline_access', 'patient/Observation.rs']));
    const byApp = await t.http.app.inject({
      method: 'GET',
      url: '/auth/apps',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(byApp.statusCode).toBe(403);
    const before = await lastAuditSeq(t.ward);
    const revoked = await t.http.app.inject({
      method: 'DELETE',
      url: `/auth/apps/${app.clientId}`,
      headers: { authorization: `Bearer ${patientLogin}` },
    });
    expect(revoked.statusCode).toBe(200);
    expect((await fhirClient(t, tokens.access_token).get(`Observation/${obsA}`)).status).toBe(401);
    await expect(client.refreshTokenGrant(app.config, tokens.refresh_token ?? '')).rejects.toMatchObject({ error: 'invalid_grant' });
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows[0]).toMatchObject({
      action: 'app-revoke',
      who: { id: `Patient/${patientA}`, clientId: app.clientId },
      outcome: { status: 200 },
    });
    const after = await t.http.app.inject({ method: 'GET', url: '/auth/apps', headers: { authorization: `Bearer ${patientLogin}` } });
    expect(after.json().apps.map((a: any) => a.clientId)).not.toContain(app.clientId);
  });
});
