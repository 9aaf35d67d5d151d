import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import {
  asBrowser,
  login,
  PASSWORD,
  sessionOf,
  stepUp,
  totpAt,
  type WebSession,
  type WorkforceUser,
  workforceUser,
} from '../support/web-session.js';

/**
 * The HTTP admin API (issue 5): `ward user …` and `ward client …` for a system administrator
 * who works in a web session and has stepped up within the window (ADR 0014). The fake clock
 * moves 31 s before each TOTP use, since a time step's code is spent once used.
 */
describe.each(engines())('admin API on %s', (engine) => {
  let t: TestWard;
  const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  let clock = start;
  let admin: WorkforceUser;
  let adminSession: WebSession;
  let physician: WorkforceUser;
  let officer: WorkforceUser;
  let patientId: string;

  const tick = (seconds = 31) => {
    clock = new Date(clock.getTime() + seconds * 1000);
    t.setNow(clock);
  };
  /** The administrator steps up again (a fresh TOTP time step) and works in the new session. */
  const freshAdmin = async (): Promise<WebSession> => {
    tick();
    adminSession = await stepUp(t, admin, adminSession);
    return adminSession;
  };
  const call = (s: WebSession, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) => asBrowser(t, s, method, url, payload);
  const bearer = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.http.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
  const read = (s: WebSession) => call(s, 'GET', '/fhir/Patient?_count=1');
  const codeOf = (res: LightMyRequestResponse) => res.json().issue?.[0]?.details?.coding?.[0]?.code;

  async function audited(request: () => Promise<LightMyRequestResponse>): Promise<{ res: LightMyRequestResponse; entries: any[] }> {
    const before = await lastAuditSeq(t.ward);
    const res = await request();
    return { res, entries: (await auditRowsAfter(t.ward, before)).map((r) => r.parsed) };
  }

  /** An account created over the admin API, enrolled with its code, through its first login (TOTP enrollment). */
  async function enrolled(username: string, code: string): Promise<WorkforceUser> {
    expect((await t.http.app.inject({ method: 'POST', url: '/auth/enroll', payload: { code, password: PASSWORD } })).statusCode).toBe(200);
    const pending = sessionOf(await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } }));
    const secret = (await call(pending, 'POST', '/auth/mfa/totp')).json().secret as string;
    const confirmed = await call(pending, 'POST', '/auth/mfa/totp/confirm', { code: totpAt(secret, t.ward.now()) });
    expect(confirmed.statusCode).toBe(200);
    return { username, secret, session: sessionOf(confirmed) };
  }

  const ledger = async (userId: string) =>
    (
      await t.ward.db.query<{ change: string; actor: string }>(
        'SELECT change, actor FROM ward_privilege_change WHERE user_id = $1 ORDER BY id',
        [userId],
      )
    ).rows.map((r) => [r.change, r.actor]);

  beforeAll(async () => {
    t = await openTestWard(engine);
    patientId = (await fhirClient(t, await t.token(SERVICE)).post('Patient', { resourceType: 'Patient', name: [{ family: 'Adminapi' }] }))
      .body.id;
    // Enrolled a minute before `start`, stepped up at `start` (as break-glass.test.ts does).
    t.setNow(new Date(start.getTime() - 60_000));
    admin = await workforceUser(t, 'adm.root', { roles: ['system-admin'], practitioner: 'Practitioner/adm-root' });
    physician = await workforceUser(t, 'adm.doc', { roles: ['physician'], practitioner: 'Practitioner/adm-doc' });
    officer = await workforceUser(t, 'adm.po', { roles: ['privacy-officer'], practitioner: 'Practitioner/adm-po' });
    t.setNow(start);
    adminSession = await stepUp(t, admin, admin.session);
  }, 120_000);
  afterAll(async () => t?.close());

  it('170.315(g)(10)(vi) · 170.315(g)(10)(vii): a stepped-up system administrator registers a backend client whose signed assertion then gets a token, lists it, and suspends it — the token is refused at once; each change is audited as `ward client` audits it', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = randomUUID();
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
    const created = await audited(() =>
      call(adminSession, 'POST', '/admin/clients', { name: 'Lab feed', scope: 'system/Patient.rs', jwks: { keys: [jwk] } }),
    );
    expect(created.res.statusCode, created.res.body).toBe(201);
    expect(created.res.headers['cache-control']).toBe('no-store');
    const clientId = created.res.json().clientId as string;
    expect(created.res.json()).toMatchObject({
      state: 'approved',
      scopeCeiling: 'system/Patient.rs',
      tokenEndpointAuthMethod: 'private_key_jwt',
      owner: 'Practitioner/adm-root',
      tokenEndpoint: `${t.config.baseUrl}/oauth/token`,
    });
    expect(created.entries.map((e) => [e.action, e.who.id, e.outcome.status, e.detail.clientId, e.detail.state])).toEqual([
      ['client-create', 'Practitioner/adm-root', 201, clientId, 'approved'],
    ]);

    // Ward checks the assertion's times on its (fake) clock, which lags real time by however long
    // the run took; oidc-provider's own check (real time) allows the 240 s of validity either way.
    const now = Math.floor(t.ward.now().getTime() / 1000);
    const assertion = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(`${t.config.baseUrl}/oauth/token`)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + 240)
        .sign(privateKey);
    const tokenRequest = async () =>
      t.http.app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'system/Patient.rs',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await assertion(),
        }).toString(),
      });
    const granted = await tokenRequest();
    expect(granted.statusCode, granted.body).toBe(200);
    const token = granted.json().access_token as string;
    expect((await fhirClient(t, token).get(`Patient/${patientId}`)).status).toBe(200);

    const listed = await audited(() => call(adminSession, 'GET', '/admin/clients'));
    expect(listed.res.statusCode).toBe(200);
    expect(listed.res.json().clients.find((c: { clientId: string }) => c.clientId === clientId)).toMatchObject({
      name: 'Lab feed',
      state: 'approved',
      keys: 'inline jwks',
    });
    expect(listed.entries.map((e) => [e.action, e.outcome.status])).toEqual([['client-list', 200]]);

    const suspended = await audited(() => call(adminSession, 'POST', `/admin/clients/${clientId}/suspend`));
    expect(suspended.res.statusCode).toBe(200);
    expect(suspended.res.json()).toMatchObject({ clientId, state: 'suspended' });
    expect(suspended.res.json().revoked).toBeGreaterThanOrEqual(1);
    expect(suspended.entries).toMatchObject([
      {
        action: 'client-suspend',
        who: { id: 'Practitioner/adm-root' },
        outcome: { status: 200 },
        detail: { clientId, previousState: 'approved' },
      },
    ]);
    expect((await fhirClient(t, token).get(`Patient/${patientId}`)).status).toBe(401);
    expect((await tokenRequest()).statusCode).not.toBe(200);

    const unknown = await audited(() => call(adminSession, 'POST', '/admin/clients/no-such-client/suspend'));
    expect(unknown.res.statusCode).toBe(404);
    expect(unknown.entries.map((e) => [e.action, e.outcome.status])).toEqual([['client-suspend', 404]]);
  });

  it('170.210(e)(1) privilege changes · 164.308 workforce termination: a stepped-up system administrator creates an account (who enrolls with the answered code), grants and revokes a role (ledger, audit, sessions ended as by `ward user`), deactivates it (its session stops at once) and reactivates it', async () => {
    await freshAdmin();
    const created = await audited(() =>
      call(adminSession, 'POST', '/admin/users', {
        username: 'api.nurse',
        name: 'Api Nurse',
        roles: ['nurse'],
        practitioner: 'Practitioner/api-nurse',
      }),
    );
    expect(created.res.statusCode, created.res.body).toBe(201);
    expect(created.res.headers['cache-control']).toBe('no-store');
    const body = created.res.json();
    const id = body.id as string;
    expect(body).toMatchObject({
      username: 'api.nurse',
      kind: 'workforce',
      roles: ['nurse'],
      status: 'invited',
      fhirUser: 'Practitioner/api-nurse',
    });
    expect(body.enrollmentLink).toBe(`${t.config.baseUrl}/enroll#code=${body.enrollmentCode}`);
    expect(created.entries).toMatchObject([
      { action: 'user-create', who: { id: 'Practitioner/adm-root' }, outcome: { status: 201 }, detail: { userId: id, roles: 'nurse' } },
    ]);
    // The code is shown once, to the caller: never in the audit log, and not the display name either.
    expect(JSON.stringify(created.entries)).not.toContain(body.enrollmentCode);
    expect(JSON.stringify(created.entries)).not.toContain('Api Nurse');

    let nurse = await enrolled('api.nurse', body.enrollmentCode);
    expect((await read(nurse.session)).statusCode).toBe(200);
    const list = await call(adminSession, 'GET', '/admin/users');
    expect(list.statusCode).toBe(200);
    expect(list.json().users.find((u: { id: string }) => u.id === id)).toEqual({
      id,
      username: 'api.nurse',
      kind: 'workforce',
      roles: ['nurse'],
      status: 'active',
      fhirUser: 'Practitioner/api-nurse',
    });
    expect(list.body).not.toContain('Api Nurse');

    const granted = await audited(() => call(adminSession, 'POST', `/admin/users/${id}/roles`, { role: 'medical-assistant' }));
    expect(granted.res.statusCode, granted.res.body).toBe(200);
    expect(granted.res.json().roles).toEqual(['nurse', 'medical-assistant']);
    expect(granted.entries).toMatchObject([
      {
        action: 'role-grant',
        who: { id: 'Practitioner/adm-root' },
        detail: { userId: id, rolesBefore: 'nurse', rolesAfter: 'nurse medical-assistant', sessionsRevoked: '1' },
      },
    ]);
    expect((await read(nurse.session)).statusCode).toBe(401);

    const revoked = await audited(() => call(adminSession, 'DELETE', `/admin/users/${id}/roles/nurse`));
    expect(revoked.res.statusCode).toBe(200);
    expect(revoked.res.json().roles).toEqual(['medical-assistant']);
    expect(revoked.entries).toMatchObject([
      { action: 'role-revoke', detail: { userId: id, rolesBefore: 'nurse medical-assistant', rolesAfter: 'medical-assistant' } },
    ]);
    expect(await ledger(id)).toEqual([
      ['grant-role', 'Practitioner/adm-root'],
      ['revoke-role', 'Practitioner/adm-root'],
    ]);

    tick();
    nurse = { ...nurse, session: await login(t, nurse) };
    expect((await read(nurse.session)).statusCode).toBe(200);
    const deactivated = await audited(() => call(adminSession, 'POST', `/admin/users/${id}/deactivate`));
    expect(deactivated.res.statusCode).toBe(200);
    expect(deactivated.res.json()).toMatchObject({ id, status: 'deactivated' });
    expect(deactivated.entries).toMatchObject([{ action: 'user-deactivate', detail: { userId: id, sessionsRevoked: '1' } }]);
    expect((await read(nurse.session)).statusCode).toBe(401);
    const refusedLogin = await t.http.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'api.nurse', password: PASSWORD },
    });
    expect(refusedLogin.statusCode).not.toBe(200);

    const reactivated = await audited(() => call(adminSession, 'POST', `/admin/users/${id}/reactivate`));
    expect(reactivated.res.statusCode).toBe(200);
    expect(reactivated.res.json().status).toBe('active');
    expect(reactivated.entries).toMatchObject([{ action: 'user-reactivate', detail: { userId: id, previousStatus: 'deactivated' } }]);
    expect((await ledger(id)).at(-1)).toEqual(['reactivate', 'Practitioner/adm-root']);

    const compromised = await audited(() => call(adminSession, 'POST', `/admin/users/${id}/mark-compromised`));
    expect(compromised.res.statusCode).toBe(200);
    expect(compromised.res.json().passwordCompromised).toBe(true);
    expect(compromised.entries).toMatchObject([{ action: 'password-compromised', detail: { userId: id } }]);

    const unknown = await audited(() => call(adminSession, 'POST', '/admin/users/00000000-0000-4000-8000-000000000000/deactivate'));
    expect(unknown.res.statusCode).toBe(404);
    expect(unknown.entries.map((e) => [e.action, e.outcome.status, e.who.id])).toEqual([['user-deactivate', 404, 'Practitioner/adm-root']]);
  });

  it('[NPRM] 164.312(a)(2)(ii) admin separation: a clinical role cannot be granted to the system-admin account, nor an account created with both — refused and audited over the admin API, the ledger untouched', async () => {
    await freshAdmin();
    const adminId = (await call(adminSession, 'GET', '/admin/users'))
      .json()
      .users.find((u: { username: string }) => u.username === 'adm.root').id as string;
    const refused = await audited(() => call(adminSession, 'POST', `/admin/users/${adminId}/roles`, { role: 'physician' }));
    expect(refused.res.statusCode).toBe(400);
    expect(refused.res.body).toMatch(/both a clinical and an administrative role/);
    expect(refused.entries).toMatchObject([
      { action: 'role-grant', outcome: { status: 400, code: 'WARD_INVALID_REQUEST' }, detail: { userId: adminId } },
    ]);
    expect(refused.entries[0].detail.reason).toMatch(/clinical and an administrative/);
    expect(await ledger(adminId)).toEqual([]);
    const both = await audited(() =>
      call(adminSession, 'POST', '/admin/users', { username: 'api.both', name: 'Both', roles: ['physician', 'system-admin'] }),
    );
    expect(both.res.statusCode).toBe(400);
    expect(both.entries.map((e) => [e.action, e.outcome.status])).toEqual([['user-create', 400]]);
    // The administrator's session was not ended: nothing changed.
    expect((await call(adminSession, 'GET', '/admin/users')).statusCode).toBe(200);
  });

  it('[NPRM] 164.312(a)(2)(ii) admin separation · ADR 0014 step-up: a physician, a privacy officer, a system-admin bearer token, a token mixing system-admin with a clinical role, and a system-admin session without a step-up or with a stale one are each refused — and audited under the action — before anything changes', async () => {
    await freshAdmin();
    const target = (await call(adminSession, 'POST', '/admin/users', { username: 'api.target', name: 'T', roles: ['billing'] })).json();
    tick();
    const doctorSession = await stepUp(t, physician, physician.session);
    const officerSession = await stepUp(t, officer, officer.session);
    const adminToken = await t.token({ role: 'system-admin', sub: 'Practitioner/adm-root', scope: 'user/*.cruds' });
    // No token mixes an administrative and a clinical role: the mint refuses it (the gate would too, test/identity/admin-gate.test.ts).
    await expect(t.token({ role: ['system-admin', 'physician'], sub: 'Practitioner/adm-mixed', scope: 'user/*.cruds' })).rejects.toThrow(
      /administrators use a separate account/,
    );
    tick();
    const unstepped = await login(t, admin);
    tick();
    let stale = await login(t, admin);
    tick();
    stale = await stepUp(t, admin, stale);
    tick(6 * 60); // past the 5-minute step-up window, inside the 15-minute idle limit

    const grant = { role: 'front-desk' };
    const url = `/admin/users/${target.id}/roles`;
    const cases: [string, () => Promise<LightMyRequestResponse>, number, string, string | undefined][] = [
      ['physician session', () => call(doctorSession, 'POST', url, grant), 403, 'WARD_POLICY_DENIED', undefined],
      ['privacy-officer session', () => call(officerSession, 'POST', url, grant), 403, 'WARD_POLICY_DENIED', undefined],
      ['system-admin bearer token', () => bearer(adminToken, 'POST', url, grant), 403, 'WARD_STEP_UP_UNAVAILABLE', 'unavailable'],
      ['system-admin session, no step-up', () => call(unstepped, 'POST', url, grant), 401, 'WARD_STEP_UP_REQUIRED', 'required'],
      ['system-admin session, stale step-up', () => call(stale, 'POST', url, grant), 401, 'WARD_STEP_UP_REQUIRED', 'stale'],
    ];
    for (const [who, request, status, code, stepUpDetail] of cases) {
      const { res, entries } = await audited(request);
      expect([who, res.statusCode, codeOf(res)]).toEqual([who, status, code]);
      expect(res.body).not.toContain('api.target');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: 'role-grant', outcome: { status, code } });
      if (stepUpDetail) expect(entries[0].detail.stepUp).toBe(stepUpDetail);
      if (status === 401) expect(res.headers['www-authenticate']).toMatch(/insufficient_user_authentication/);
    }

    // Every other admin route refuses the same callers, audited under its own action.
    const routes: [string, 'GET' | 'POST' | 'DELETE', string, object | undefined][] = [
      ['account-list', 'GET', '/admin/users', undefined],
      ['user-create', 'POST', '/admin/users', { username: 'api.evil', name: 'E', roles: ['system-admin'] }],
      ['user-deactivate', 'POST', `/admin/users/${target.id}/deactivate`, undefined],
      ['user-reactivate', 'POST', `/admin/users/${target.id}/reactivate`, undefined],
      ['password-compromised', 'POST', `/admin/users/${target.id}/mark-compromised`, undefined],
      ['role-revoke', 'DELETE', `/admin/users/${target.id}/roles/billing`, undefined],
      ['client-list', 'GET', '/admin/clients', undefined],
      ['client-create', 'POST', '/admin/clients', { name: 'Evil', scope: 'system/*.rs', redirectUris: ['https://evil.test/cb'] }],
      ['client-suspend', 'POST', '/admin/clients/any/suspend', undefined],
      ['client-approve', 'POST', '/admin/clients/any/approve', undefined],
    ];
    for (const [action, method, path, payload] of routes) {
      for (const [session, status] of [
        [doctorSession, 403],
        [stale, 401],
      ] as const) {
        const { res, entries } = await audited(() => call(session, method, path, payload));
        expect([action, res.statusCode]).toEqual([action, status]);
        expect(entries.map((e) => e.action)).toEqual([action]);
      }
      const { res } = await audited(() => bearer(adminToken, method, path, payload));
      expect([action, res.statusCode, codeOf(res)]).toEqual([action, 403, 'WARD_STEP_UP_UNAVAILABLE']);
    }
    // Nothing changed: no ledger row, no new account, no client.
    expect(await ledger(target.id)).toEqual([]);
    const { rows } = await t.ward.db.query<{ n: string }>("SELECT count(*)::text AS n FROM ward_client WHERE name = 'Evil'");
    expect(rows[0]?.n).toBe('0');
    await freshAdmin();
    const usernames = (await call(adminSession, 'GET', '/admin/users')).json().users.map((u: { username: string }) => u.username);
    expect(usernames).not.toContain('api.evil');
  });
});
