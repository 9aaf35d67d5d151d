import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import * as oauth from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveClient, createClient, suspendClient } from '../../src/app/client-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { REDIRECT_URI } from '../support/smart-app.js';
import { Browser } from '../support/smart-browser.js';
import { asBrowser, login, stepUp, type WebSession, type WorkforceUser, workforceUser } from '../support/web-session.js';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * Third-party app governance (issue 5 item 7): a client registered pending gets no token until
 * an operator (`ward client approve`) or a stepped-up system administrator
 * (`POST /admin/clients/{id}/approve`) approves it; a suspended client cannot be approved back.
 */
describe.each(engines())('client approval (pending → approved → suspended) on %s', (engine) => {
  let t: TestWard;
  let patientId: string;
  const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  let clock = start;
  let admin: WorkforceUser;
  let adminSession: WebSession;
  let physician: WorkforceUser;
  const operator = () => operatorPrincipal('test');
  const cli = () => operatorContext('cli');

  const tick = (seconds = 31) => {
    clock = new Date(clock.getTime() + seconds * 1000);
    t.setNow(clock);
  };
  const codeOf = (res: LightMyRequestResponse) => res.json().issue?.[0]?.details?.coding?.[0]?.code;

  async function audited<T>(run: () => Promise<T>): Promise<{ res: T; entries: any[] }> {
    const before = await lastAuditSeq(t.ward);
    const res = await run();
    return { res, entries: (await auditRowsAfter(t.ward, before)).map((r) => r.parsed) };
  }

  async function backendKeys() {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = randomUUID();
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
    return { jwks: { keys: [jwk] }, privateKey, kid };
  }

  async function tokenRequest(clientId: string, kid: string, privateKey: Key) {
    // Ward checks the assertion's times on its (fake) clock, which a slow run leaves behind real time.
    const now = Math.floor(t.ward.now().getTime() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(`${t.config.baseUrl}/oauth/token`)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 240)
      .sign(privateKey);
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'system/Patient.rs',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }).toString(),
    });
    return { status: res.statusCode, body: res.json() as Record<string, any> };
  }

  /** A token request that must be refused (invalid_client, no token) and audited once as token-denied with the client id and its state. */
  async function expectRefused(clientId: string, kid: string, privateKey: Key, state: 'pending' | 'suspended') {
    const { res, entries } = await audited(() => tokenRequest(clientId, kid, privateKey));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.body.access_token).toBeUndefined();
    expect(entries.map((e) => [e.action, e.who.clientId, e.outcome.status, e.detail.clientState])).toEqual([
      ['token-denied', clientId, 401, state],
    ]);
  }

  async function expectGranted(clientId: string, kid: string, privateKey: Key) {
    const res = await tokenRequest(clientId, kid, privateKey);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await fhirClient(t, res.body.access_token).get(`Patient/${patientId}`)).status).toBe(200);
  }

  const stateOf = async (clientId: string) => (await t.ward.smart.clients.find(clientId))?.state;

  beforeAll(async () => {
    t = await openTestWard(engine);
    patientId = (await fhirClient(t, await t.token(SERVICE)).post('Patient', { resourceType: 'Patient', name: [{ family: 'Approval' }] }))
      .body.id;
    t.setNow(new Date(start.getTime() - 60_000));
    admin = await workforceUser(t, 'appr.root', { roles: ['system-admin'], practitioner: 'Practitioner/appr-root' });
    physician = await workforceUser(t, 'appr.doc', { roles: ['physician'], practitioner: 'Practitioner/appr-doc' });
    t.setNow(start);
    adminSession = await stepUp(t, admin, admin.session);
  }, 120_000);
  afterAll(async () => t?.close());

  it('170.315(g)(10)(vi) app governance: a backend client registered pending is refused a token (audited with its client id); `ward client approve` lets it get one; suspended it is refused again, and approving it then is refused (409) — each approval and refusal audited with the client id and operator', async () => {
    const { jwks, privateKey, kid } = await backendKeys();
    const created = await createClient(t.ward, operator(), cli(), {
      name: 'Vendor feed',
      scope: 'system/Patient.rs',
      jwks: JSON.stringify(jwks),
      pending: true,
    });
    const clientId = created.split('\n').at(-1) ?? '';
    expect(created).toContain(`pending approval: ward client approve ${clientId}`);
    expect(await stateOf(clientId)).toBe('pending');
    await expectRefused(clientId, kid, privateKey, 'pending');

    const approved = await audited(() => approveClient(t.ward, operator(), cli(), clientId));
    expect(approved.res).toBe(`client ${clientId} approved`);
    expect(approved.entries).toMatchObject([
      {
        action: 'client-approve',
        who: { id: 'operator:test', kind: 'operator' },
        outcome: { status: 200 },
        detail: { clientId, previousState: 'pending' },
      },
    ]);
    await expectGranted(clientId, kid, privateKey);

    // Approving twice is idempotent: nothing changes, and the entry says it was already approved.
    const changedAt = (await t.ward.smart.clients.find(clientId))?.stateChangedAt;
    const again = await audited(() => approveClient(t.ward, operator(), cli(), clientId));
    expect(again.res).toBe(`client ${clientId} was already approved`);
    expect(again.entries).toMatchObject([
      { action: 'client-approve', outcome: { status: 200 }, detail: { clientId, previousState: 'approved' } },
    ]);
    expect((await t.ward.smart.clients.find(clientId))?.stateChangedAt).toEqual(changedAt);

    await suspendClient(t.ward, operator(), cli(), clientId);
    await expectRefused(clientId, kid, privateKey, 'suspended');
    const refused = await audited(() => approveClient(t.ward, operator(), cli(), clientId).catch((e: Error) => e));
    expect(refused.res).toBeInstanceOf(Error);
    expect(String((refused.res as Error).message)).toContain('WARD_CLIENT_SUSPENDED');
    expect(refused.entries).toMatchObject([
      {
        action: 'client-approve',
        who: { id: 'operator:test' },
        outcome: { status: 409, code: 'WARD_CLIENT_SUSPENDED' },
        detail: { clientId },
      },
    ]);
    expect(await stateOf(clientId)).toBe('suspended');
    await expectRefused(clientId, kid, privateKey, 'suspended');
  });

  it('170.315(g)(10)(vi) app governance: a pending public app is refused at the authorize endpoint (shown by Ward, never redirected, audited with its client id) until it is approved', async () => {
    const out = await createClient(t.ward, operator(), cli(), {
      name: 'Pending diary',
      scope: 'launch/patient patient/Patient.rs',
      redirectUris: [REDIRECT_URI],
      pending: true,
    });
    const clientId = out.split('\n').at(-1) ?? '';
    const authorize = async () => {
      const url = new URL(`${t.config.baseUrl}/oauth/auth`);
      const params = {
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT_URI,
        scope: 'launch/patient patient/Patient.rs',
        aud: `${t.config.baseUrl}/fhir`,
        state: 'st',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      return new Browser(t).get(`${url.pathname}${url.search}`);
    };
    const refused = await audited(authorize);
    expect(refused.res.status).toBe(400);
    expect(refused.res.location).toBeUndefined();
    expect(refused.res.body).toContain('invalid_client');
    expect(refused.entries).toMatchObject([
      {
        action: 'authorize',
        who: { clientId },
        outcome: { status: 400, code: 'oauth:invalid_client' },
        detail: { clientState: 'pending' },
      },
    ]);

    await approveClient(t.ward, operator(), cli(), clientId);
    const accepted = await authorize();
    // Approved, the request goes on to the sign-in interaction (not back to the app with an error).
    expect(accepted.status).toBe(303);
    expect(accepted.location).not.toContain('error=');
    expect(accepted.location?.startsWith(REDIRECT_URI)).toBe(false);
  });

  it('170.315(g)(10)(vi) app governance: over the admin API a stepped-up system administrator registers a client pending, approves it (then it gets a token), approving twice is idempotent, and a suspended or unknown client is refused — audited as `ward client approve` audits it', async () => {
    const { jwks, privateKey, kid } = await backendKeys();
    const call = (method: 'GET' | 'POST', url: string, payload?: object) => asBrowser(t, adminSession, method, url, payload);
    const bad = await audited(() => call('POST', '/admin/clients', { name: 'X', scope: 'system/Patient.rs', jwks, state: 'suspended' }));
    expect(bad.res.statusCode).toBe(400);
    expect(bad.entries.map((e) => [e.action, e.outcome.status])).toEqual([['client-create', 400]]);

    const created = await call('POST', '/admin/clients', { name: 'Vendor app', scope: 'system/Patient.rs', jwks, state: 'pending' });
    expect(created.statusCode, created.body).toBe(201);
    const clientId = created.json().clientId as string;
    expect(created.json().state).toBe('pending');
    await expectRefused(clientId, kid, privateKey, 'pending');

    const approved = await audited(() => call('POST', `/admin/clients/${clientId}/approve`));
    expect(approved.res.statusCode, approved.res.body).toBe(200);
    expect(approved.res.headers['cache-control']).toBe('no-store');
    expect(approved.res.json()).toMatchObject({ clientId, state: 'approved', previousState: 'pending' });
    expect(approved.entries).toMatchObject([
      {
        action: 'client-approve',
        who: { id: 'Practitioner/appr-root' },
        outcome: { status: 200 },
        detail: { clientId, previousState: 'pending' },
      },
    ]);
    await expectGranted(clientId, kid, privateKey);

    const twice = await call('POST', `/admin/clients/${clientId}/approve`);
    expect(twice.statusCode).toBe(200);
    expect(twice.json()).toMatchObject({ state: 'approved', previousState: 'approved' });

    expect((await call('POST', `/admin/clients/${clientId}/suspend`)).statusCode).toBe(200);
    const afterSuspend = await audited(() => call('POST', `/admin/clients/${clientId}/approve`));
    expect([afterSuspend.res.statusCode, codeOf(afterSuspend.res)]).toEqual([409, 'WARD_CLIENT_SUSPENDED']);
    expect(afterSuspend.entries).toMatchObject([
      {
        action: 'client-approve',
        who: { id: 'Practitioner/appr-root' },
        outcome: { status: 409, code: 'WARD_CLIENT_SUSPENDED' },
        detail: { clientId },
      },
    ]);
    expect(await stateOf(clientId)).toBe('suspended');
    await expectRefused(clientId, kid, privateKey, 'suspended');

    const unknown = await audited(() => call('POST', '/admin/clients/no-such-client/approve'));
    expect(unknown.res.statusCode).toBe(404);
    expect(unknown.entries).toMatchObject([{ action: 'client-approve', outcome: { status: 404 }, detail: { clientId: 'no-such-client' } }]);
  });

  it('170.315(g)(10)(vi) app governance · ADR 0014 step-up: a physician, a system-admin bearer token and a system-admin session without a step-up cannot approve a pending client — refused, audited as client-approve, and the client stays pending', async () => {
    const { jwks, privateKey, kid } = await backendKeys();
    const out = await createClient(t.ward, operator(), cli(), {
      name: 'Unreviewed',
      scope: 'system/Patient.rs',
      jwks: JSON.stringify(jwks),
      pending: true,
    });
    const clientId = out.split('\n').at(-1) ?? '';
    tick();
    const doctor = await stepUp(t, physician, physician.session);
    tick();
    const unstepped = await login(t, admin);
    const adminToken = await t.token({ role: 'system-admin', sub: 'Practitioner/appr-root', scope: 'user/*.cruds' });
    const url = `/admin/clients/${clientId}/approve`;
    const cases: [string, () => Promise<LightMyRequestResponse>, number, string][] = [
      ['physician session', () => asBrowser(t, doctor, 'POST', url), 403, 'WARD_POLICY_DENIED'],
      ['system-admin session, no step-up', () => asBrowser(t, unstepped, 'POST', url), 401, 'WARD_STEP_UP_REQUIRED'],
      [
        'system-admin bearer token',
        () => t.http.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${adminToken}` } }),
        403,
        'WARD_STEP_UP_UNAVAILABLE',
      ],
    ];
    for (const [who, request, status, code] of cases) {
      const { res, entries } = await audited(request);
      expect([who, res.statusCode, codeOf(res)]).toEqual([who, status, code]);
      expect(entries.map((e) => [e.action, e.outcome.status])).toEqual([['client-approve', status]]);
    }
    expect(await stateOf(clientId)).toBe('pending');
    await expectRefused(clientId, kid, privateKey, 'pending');
  });
});
