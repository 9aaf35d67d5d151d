import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { TestAuthenticator } from '../support/test-authenticator.js';
import {
  asBrowser,
  login,
  sessionClient,
  sessionOf,
  stepUp,
  stepUpWith,
  totpAt,
  type WebSession,
  workforceUser,
} from '../support/web-session.js';

const JUSTIFICATION = 'Collapsed in the waiting room, unresponsive, no care-team clinician reachable';
const BREAK_GLASS = '/admin/break-glass';

/** The error code an OperationOutcome carries in its details. */
const codeOf = (body: any): string | undefined => body?.issue?.[0]?.details?.coding?.[0]?.code;

describe.each(engines())('MFA step-up for sensitive operations on %s', (engine) => {
  let t: TestWard;
  let clock = new Date('2031-09-01T08:00:00.000Z');
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
    t.setNow(clock);
  };
  let windowSeconds: number;
  let service: FhirClient;
  let officer: FhirClient;
  let patient: string;
  let obs: string;

  /** Runs a request and returns its answer with the audit entries it appended. */
  async function audited<T>(request: () => Promise<T>): Promise<{ res: T; entries: any[] }> {
    const before = await lastAuditSeq(t.ward);
    const res = await request();
    return { res, entries: (await auditRowsAfter(t.ward, before)).map((r) => r.parsed) };
  }
  const grantsOf = async (principal: string) =>
    Number(
      (await t.ward.db.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_break_glass_grant WHERE principal = $1', [principal])).rows[0]
        ?.n,
    );
  const breakGlass = (session: WebSession) =>
    sessionClient(t, session).post(BREAK_GLASS, { patient, reasonCode: 'ETREAT', justification: JUSTIFICATION });
  const clinician = (name: string) =>
    workforceUser(t, name, { roles: ['physician'], practitioner: `Practitioner/${name.replace('.', '-')}` });

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(clock);
    windowSeconds = t.config.stepUpMinutes * 60;
    service = fhirClient(t, await t.token(SERVICE));
    officer = fhirClient(t, await t.token({ role: 'privacy-officer', sub: 'Practitioner/su-po', scope: 'user/*.rs', ttl: '24h' }));
    patient = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Stepwell' }] })).body.id;
    obs = (
      await service.post('Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: `Patient/${patient}` },
      })
    ).body.id;
  }, 120_000);
  afterAll(async () => t?.close());

  it('164.312(a)(2)(ii) · 170.315(d)(6) · [NPRM] 164.312 authentication · 170.315(d)(13) · 164.312(a)(2)(ii) · 42 CFR §2.51 (break-glass record): break-glass end to end — denied; a request without step-up refused and audited; step-up with TOTP; a request with a reason; access to that patient for the window only; the privacy officers’ alert and review; denied again after the window (fake clock)', async () => {
    const doctor = await clinician('su.walker');
    advance(60);
    let session = doctor.session;
    const me = sessionClient(t, session);

    const denied = await audited(() => me.get(`Observation/${obs}`));
    expect(denied.res.status).toBe(404);
    expect(denied.entries[0]).toMatchObject({ action: 'read', who: { id: 'Practitioner/su-walker' }, decision: { effect: 'deny' } });

    // Without a step-up the request is refused before the patient is even looked up, and says why.
    const refused = await audited(() => breakGlass(session));
    expect(refused.res.status).toBe(401);
    expect(codeOf(refused.res.body)).toBe('WARD_STEP_UP_REQUIRED');
    expect(refused.res.body.issue[0].code).toBe('login');
    expect(String(refused.res.headers['www-authenticate'])).toContain('error="insufficient_user_authentication"');
    expect(refused.res.raw.body).not.toContain(patient);
    expect(refused.res.raw.body).not.toContain('waiting room');
    expect(refused.entries).toHaveLength(1);
    expect(refused.entries[0]).toMatchObject({
      action: 'break-glass',
      who: { id: 'Practitioner/su-walker' },
      decision: { effect: 'deny' },
      outcome: { status: 401, code: 'WARD_STEP_UP_REQUIRED' },
      detail: { stepUp: 'required' },
    });
    expect(refused.entries[0].decision.reasons.join('\n')).toMatch(/break-glass\/step-up: no step-up on this session/);
    expect(await grantsOf('Practitioner/su-walker')).toBe(0);

    const stepped = await audited(() => stepUpWith(t, session, { code: totpAt(doctor.secret, clock) }));
    expect(stepped.res.statusCode).toBe(200);
    expect(stepped.res.json()).toMatchObject({ state: 'authenticated', step_up: 'totp', step_up_at: clock.toISOString() });
    expect(stepped.entries).toHaveLength(1);
    expect(stepped.entries[0]).toMatchObject({
      action: 'step-up',
      who: { id: 'Practitioner/su-walker' },
      outcome: { status: 200 },
      detail: { factor: 'totp', at: clock.toISOString() },
    });
    const steppedAt = clock.toISOString();
    const before = session;
    session = sessionOf(stepped.res);
    // The step-up replaced the session: the cookie from before it is worth nothing now.
    expect(session.cookie).not.toBe(before.cookie);
    expect((await asBrowser(t, before, 'GET', '/auth/session')).statusCode).toBe(401);
    expect((await asBrowser(t, session, 'GET', '/auth/session')).json()).toMatchObject({ step_up: 'totp', step_up_at: steppedAt });

    advance(30);
    const granted = await audited(() => breakGlass(session));
    expect(granted.res.status).toBe(201);
    const grant = granted.res.body;
    expect(grant).toMatchObject({ principal: 'Practitioner/su-walker', patient, reasonCode: 'ETREAT', reviewStatus: 'open' });
    expect(granted.entries[0]).toMatchObject({
      action: 'break-glass',
      patientId: patient,
      decision: { effect: 'permit' },
      outcome: { status: 201 },
      detail: { grant: grant.id, stepUp: 'totp', stepUpAt: steppedAt, alert: 'privacy-officer-review' },
    });

    const read = await audited(() => sessionClient(t, session).get(`Observation/${obs}`));
    expect(read.res.status).toBe(200);
    expect(read.entries[0].detail.breakGlass).toBe(grant.id);

    // The privacy officers' alert is the open review item; acknowledging it is audited.
    const queue = (await officer.get('/admin/break-glass/reviews?status=open')).body.grants;
    expect(queue.find((g: { id: string }) => g.id === grant.id)).toMatchObject({ justification: JUSTIFICATION, reviewStatus: 'open' });
    const review = await audited(() => officer.post(`/admin/break-glass/reviews/${grant.id}`, { outcome: 'acknowledged' }));
    expect(review.res.status).toBe(200);
    expect(review.entries[0]).toMatchObject({ action: 'break-glass-review', detail: { outcome: 'acknowledged', grant: grant.id } });

    // For the window only: the clinician keeps working (inside the idle limit) and reads under the grant until it ends.
    const end = Date.parse(grant.end);
    while (clock.getTime() + 10 * 60_000 < end) {
      advance(10 * 60);
      expect((await sessionClient(t, session).get(`Observation/${obs}`)).status).toBe(200);
    }
    advance((end - clock.getTime()) / 1000 + 1);
    const after = await audited(() => sessionClient(t, session).get(`Observation/${obs}`));
    expect(after.res.status).toBe(404);
    expect(after.entries[0].decision.effect).toBe('deny');
    expect(after.entries[0].detail?.breakGlass).toBeUndefined();
    // And the step-up of an hour ago is long stale: breaking the glass again needs a new one.
    const stale = await audited(() => breakGlass(session));
    expect(stale.res.status).toBe(401);
    expect(stale.entries[0]).toMatchObject({ outcome: { code: 'WARD_STEP_UP_REQUIRED' }, detail: { stepUp: 'stale' } });
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): step-up refuses a TOTP code already used (at login or at a previous step-up), a wrong code and a recovery code; each refusal is audited and leaves the session without a step-up', async () => {
    const user = await clinician('su.replay');
    advance(60);
    const session = await login(t, user);
    const loginCode = totpAt(user.secret, clock);

    const attempts = await audited(async () => {
      const replayed = await stepUpWith(t, session, { code: loginCode });
      const wrong = await stepUpWith(t, session, { code: `${(Number(loginCode[0]) + 5) % 10}${loginCode.slice(1)}` });
      const recovery = await stepUpWith(t, session, { recovery_code: 'abcd-efgh-ijkl-mnop' });
      return { replayed, wrong, recovery };
    });
    expect(attempts.res.replayed.statusCode).toBe(401);
    expect(codeOf(attempts.res.replayed.json())).toBe('WARD_MFA_FAILED');
    expect(attempts.res.wrong.statusCode).toBe(401);
    expect(attempts.res.recovery.statusCode).toBe(400);
    const stepUps = attempts.entries.filter((e) => e.action === 'step-up');
    expect(stepUps.map((e) => [e.outcome.status, e.outcome.code, e.detail.reason])).toEqual([
      [401, 'WARD_MFA_FAILED', 'replayed-code'],
      [401, 'WARD_MFA_FAILED', 'wrong-code'],
    ]);
    for (const e of stepUps) expect(JSON.stringify(e)).not.toContain(loginCode);
    expect((await breakGlass(session)).status).toBe(401);

    // The next time step's code works once; replayed on the new session it is refused.
    advance(30);
    const code = totpAt(user.secret, clock);
    const ok = await stepUpWith(t, session, { code });
    expect(ok.statusCode).toBe(200);
    const again = await audited(() => stepUpWith(t, sessionOf(ok), { code }));
    expect(again.res.statusCode).toBe(401);
    expect(again.entries[0]).toMatchObject({ action: 'step-up', outcome: { status: 401 }, detail: { reason: 'replayed-code' } });
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a step-up counts for the configured window only — accepted one second inside it, refused one second past it, and the refusal is audited as stale', async () => {
    const user = await clinician('su.stale');
    advance(60);
    const session = await stepUp(t, user, user.session);
    advance(windowSeconds - 1);
    expect((await breakGlass(session)).status).toBe(201);
    advance(2);
    const late = await audited(() => breakGlass(session));
    expect(late.res.status).toBe(401);
    expect(codeOf(late.res.body)).toBe('WARD_STEP_UP_REQUIRED');
    expect(late.entries[0]).toMatchObject({ action: 'break-glass', decision: { effect: 'deny' }, detail: { stepUp: 'stale' } });
    expect(late.entries[0].decision.reasons.join('\n')).toMatch(new RegExp(`older than ${windowSeconds} s`));
    expect(await grantsOf('Practitioner/su-stale')).toBe(1);
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a step-up belongs to the session it was made on — another session of the same user, the cookie from before it, and its cookie with another session’s CSRF token get nothing from it', async () => {
    const user = await clinician('su.two');
    advance(60);
    const a = user.session;
    const b = await login(t, user);
    advance(30);
    const stepped = await stepUp(t, user, a);

    const other = await audited(() => breakGlass(b));
    expect(other.res.status).toBe(401);
    expect(other.entries[0]).toMatchObject({ outcome: { code: 'WARD_STEP_UP_REQUIRED' }, detail: { stepUp: 'required' } });
    expect((await asBrowser(t, b, 'GET', '/auth/session')).json().step_up).toBeUndefined();
    expect((await breakGlass(a)).status).toBe(401);
    const mixed = await sessionClient(t, { cookie: stepped.cookie, csrf: b.csrf }).post(BREAK_GLASS, {
      patient,
      reasonCode: 'ETREAT',
      justification: JUSTIFICATION,
    });
    expect(mixed.status).toBe(403);
    expect(codeOf(mixed.body)).toBe('WARD_CSRF_FAILED');
    expect(await grantsOf('Practitioner/su-two')).toBe(0);
    expect((await breakGlass(stepped)).status).toBe(201);
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): the serving database connection cannot stamp a step-up on an existing session (only a new session carries one)', async () => {
    const user = await clinician('su.forge');
    const listed = (await asBrowser(t, user.session, 'GET', '/auth/sessions')).json().sessions;
    const handle = listed.find((s: { current: boolean }) => s.current)?.id;
    expect(handle).toEqual(expect.any(String));
    // PostgreSQL: the serving role has no UPDATE on these columns; PGlite (one owner): the guard trigger refuses it.
    await expect(
      t.ward.db.query("UPDATE ward_session SET step_up_at = $1, step_up_method = 'totp' WHERE handle = $2", [clock, handle]),
    ).rejects.toThrow(/permission denied|replaced, not changed in place/);
    expect((await breakGlass(user.session)).status).toBe(401);
  });

  it('164.312(a)(2)(ii) · 170.315(d)(6): an operator token from `ward token create` cannot prove a second factor: break-glass answers 403 WARD_STEP_UP_UNAVAILABLE, audited, and the token cannot step up', async () => {
    const token = await t.token({ role: 'physician', sub: 'Practitioner/su-operator', scope: 'user/*.cruds' });
    const client = fhirClient(t, token);
    const refused = await audited(() => client.post(BREAK_GLASS, { patient, reasonCode: 'ETREAT', justification: JUSTIFICATION }));
    expect(refused.res.status).toBe(403);
    expect(codeOf(refused.res.body)).toBe('WARD_STEP_UP_UNAVAILABLE');
    expect(refused.res.raw.body).not.toContain(patient);
    expect(refused.entries[0]).toMatchObject({
      action: 'break-glass',
      who: { id: 'Practitioner/su-operator' },
      decision: { effect: 'deny' },
      outcome: { status: 403, code: 'WARD_STEP_UP_UNAVAILABLE' },
      detail: { stepUp: 'unavailable' },
    });
    expect(refused.entries[0].decision.reasons.join('\n')).toMatch(/bearer token cannot prove a second factor/);
    expect(await grantsOf('Practitioner/su-operator')).toBe(0);
    expect((await client.post('/auth/step-up', { code: '123456' })).status).toBe(401);
  });

  it('[NIST] 800-63B-4 §2.2.2 · [NPRM] 164.312 authentication · 170.315(d)(13): a security key steps up too (UV required), the grant records it, and its assertion cannot be replayed', async () => {
    const user = await clinician('su.key');
    const key = new TestAuthenticator('https://ward.test', 'ward.test');
    const options = (await asBrowser(t, user.session, 'POST', '/auth/webauthn/register/options')).json();
    expect((await asBrowser(t, user.session, 'POST', '/auth/webauthn/register', key.create(options) as object)).statusCode).toBe(200);
    advance(60);

    const challenge = (await asBrowser(t, user.session, 'POST', '/auth/step-up/webauthn/options')).json();
    expect(challenge).toMatchObject({ rpId: 'ward.test', userVerification: 'required' });
    const unverified = await stepUpWith(t, user.session, key.get(challenge, { userVerified: false }) as object);
    expect(unverified.statusCode).toBe(401);
    const fresh = (await asBrowser(t, user.session, 'POST', '/auth/step-up/webauthn/options')).json();
    const assertion = key.get(fresh) as object;
    const done = await stepUpWith(t, user.session, assertion);
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({ step_up: 'webauthn', step_up_at: clock.toISOString() });
    const session = sessionOf(done);

    const granted = await audited(() => breakGlass(session));
    expect(granted.res.status).toBe(201);
    expect(granted.entries[0].detail).toMatchObject({ stepUp: 'webauthn', stepUpAt: clock.toISOString() });
    const replay = await audited(() => stepUpWith(t, session, assertion));
    expect(replay.res.statusCode).toBe(401);
    expect(replay.entries[0]).toMatchObject({ action: 'step-up', detail: { factor: 'webauthn', reason: 'webauthn-not-verified' } });
  });
});
