import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { databaseImage } from '../support/database-image.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';

const PASSWORD = 'amber tidepool 19 cormorants';
const COOKIE = '__Host-ward_session';

interface Browser {
  cookie: string;
  csrf: string;
}

/** The authenticator app: the base32 secret Ward showed once, and the code for a moment. */
const codeAt = (secret: string, at: Date) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at.getTime() });
const cookieOf = (setCookie: unknown) => String(setCookie).split(';')[0] ?? '';

describe.each(engines())('MFA and web sessions on %s', (engine) => {
  let t: TestWard;
  let clock = new Date('2031-06-02T08:00:00.000Z');
  let address = 1;
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
    t.setNow(clock);
  };
  const send = (method: 'GET' | 'POST' | 'DELETE', url: string, b: Partial<Browser> = {}, payload?: object) =>
    t.http.app.inject({
      method,
      url,
      headers: { ...(b.cookie ? { cookie: b.cookie } : {}), ...(b.csrf ? { 'x-csrf-token': b.csrf } : {}) },
      ...(payload ? { payload } : {}),
      remoteAddress: `198.18.0.${address}`,
    });
  /** POST /auth/login; the browser keeps the cookie and CSRF token it is given. */
  const passwordStep = async (username: string, planted?: string) => {
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username, password: PASSWORD },
      headers: planted ? { cookie: planted } : {},
      remoteAddress: `198.18.0.${address}`,
    });
    expect(res.statusCode).toBe(200);
    return { res, browser: { cookie: cookieOf(res.headers['set-cookie']), csrf: res.json().csrf_token as string } };
  };

  async function account(username: string, roles = ['nurse']) {
    const u = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
      username,
      name: 'Session Tester',
      roles,
      practitioner: `Practitioner/${username.replace(/[^a-z0-9]/g, '')}`,
      // Their unit: a patient they register in it is theirs to reach (ADR 0009, unit relationship).
      organization: 'Organization/session-unit',
    });
    expect((await send('POST', '/auth/enroll', {}, { code: u.enrollmentCode, password: PASSWORD })).statusCode).toBe(200);
    return u;
  }

  /** A workforce account through its first login: password, TOTP enrollment, confirmation. */
  async function enrolledWithTotp(username: string) {
    const user = await account(username);
    const { browser: pending } = await passwordStep(username);
    const issued = await send('POST', '/auth/mfa/totp', pending);
    expect(issued.statusCode).toBe(200);
    const { secret } = issued.json();
    const confirmed = await send('POST', '/auth/mfa/totp/confirm', pending, { code: codeAt(secret, clock) });
    expect(confirmed.statusCode).toBe(200);
    const browser = { cookie: cookieOf(confirmed.headers['set-cookie']), csrf: confirmed.json().csrf_token as string };
    return { user, secret: secret as string, browser, recoveryCodes: confirmed.json().recovery_codes as string[] };
  }

  /** A later login: password, then a TOTP code (or recovery code). */
  async function secondLogin(username: string, proof: { code: string } | { recovery_code: string }) {
    const { browser: pending } = await passwordStep(username);
    const res = await send('POST', '/auth/mfa/verify', pending, proof);
    return { res, pending, browser: { cookie: cookieOf(res.headers['set-cookie']), csrf: res.json().csrf_token as string } };
  }

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(clock);
  });
  afterAll(async () => t?.close());

  it('[NPRM] 164.312 authentication · 170.315(d)(13): the first workforce login must enroll TOTP; until then the session reaches no PHI; enrollment shows 10 recovery codes once and is audited', async () => {
    address = 10;
    const user = await account('mfa.first');
    const before = await lastAuditSeq(t.ward);
    const { res, browser: pending } = await passwordStep('mfa.first');
    expect(res.json()).toMatchObject({ state: 'mfa-enrollment-required' });
    expect(res.json().access_token).toBeUndefined();
    // The pre-MFA session is good for nothing but enrollment.
    expect((await send('GET', '/fhir/Patient?_count=1', pending)).statusCode).toBe(401);
    expect((await send('GET', '/auth/sessions', pending)).statusCode).toBe(401);
    expect((await send('POST', '/auth/mfa/verify', pending, { code: '123456' })).statusCode).toBe(401);

    const issued = await send('POST', '/auth/mfa/totp', pending);
    expect(issued.statusCode).toBe(200);
    const { secret, otpauth_uri } = issued.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauth_uri).toMatch(/^otpauth:\/\/totp\/Ward:mfa\.first\?/);
    expect((await send('POST', '/auth/mfa/totp/confirm', pending, { code: '000000' })).statusCode).toBe(401);
    const confirmed = await send('POST', '/auth/mfa/totp/confirm', pending, { code: codeAt(secret, clock) });
    expect(confirmed.statusCode).toBe(200);
    const body = confirmed.json();
    expect(body.state).toBe('authenticated');
    expect(body.recovery_codes).toHaveLength(10);
    expect(new Set(body.recovery_codes).size).toBe(10);
    for (const c of body.recovery_codes) expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
    const browser = { cookie: cookieOf(confirmed.headers['set-cookie']), csrf: body.csrf_token };
    expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode).toBe(200);

    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed).filter((e) => e.detail?.userId === user.id);
    expect(entries.map((e) => [e.action, e.outcome.status, e.detail.step ?? e.detail.reason ?? e.detail.method])).toEqual([
      ['mfa-challenge', 200, undefined],
      ['mfa-enroll', 200, 'secret-issued'],
      ['mfa-failed', 401, 'wrong-code'],
      ['mfa-enroll', 201, 'confirmed'],
      ['login', 200, 'password+totp'],
    ]);
    const text = JSON.stringify(entries);
    for (const secretValue of [secret, ...body.recovery_codes]) expect(text).not.toContain(secretValue);
  });

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a TOTP code already used is refused (replay), inside its window too; ±1 step is accepted, 2 steps are not', async () => {
    address = 20;
    const { secret } = await enrolledWithTotp('mfa.replay');
    advance(60);
    const code = codeAt(secret, clock);
    const first = await secondLogin('mfa.replay', { code });
    expect(first.res.statusCode).toBe(200);
    const before = await lastAuditSeq(t.ward);
    const replay = await secondLogin('mfa.replay', { code });
    expect(replay.res.statusCode).toBe(401);
    expect(replay.res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    const failed = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed).find((e) => e.action === 'mfa-failed');
    expect(failed).toMatchObject({ outcome: { status: 401, code: 'WARD_MFA_FAILED' }, detail: { reason: 'replayed-code' } });
    // The next step's code (clock drift, one step ahead) is accepted; after it, the older step is not.
    const ahead = await secondLogin('mfa.replay', { code: codeAt(secret, new Date(clock.getTime() + 30_000)) });
    expect(ahead.res.statusCode).toBe(200);
    expect((await secondLogin('mfa.replay', { code: codeAt(secret, new Date(clock.getTime() - 30_000)) })).res.statusCode).toBe(401);
    expect((await secondLogin('mfa.replay', { code: codeAt(secret, new Date(clock.getTime() + 60_000)) })).res.statusCode).toBe(401);
  });

  it('[NIST] 800-63B-4 §3.2.2: wrong TOTP codes count in the account throttle — after 5 the right code waits with 429 — and each is audited', async () => {
    address = 30;
    const { secret } = await enrolledWithTotp('mfa.guess');
    advance(60);
    const before = await lastAuditSeq(t.ward);
    const { browser: pending } = await passwordStep('mfa.guess');
    // The password step is itself one counted try until the login completes: four wrong codes make five.
    for (let i = 0; i < 4; i++) expect((await send('POST', '/auth/mfa/verify', pending, { code: `00000${i}` })).statusCode).toBe(401);
    const waiting = await send('POST', '/auth/mfa/verify', pending, { code: codeAt(secret, clock) });
    expect(waiting.statusCode).toBe(429);
    expect(waiting.headers['retry-after']).toBe('1');
    advance(1);
    const right = await send('POST', '/auth/mfa/verify', pending, { code: codeAt(secret, clock) });
    expect(right.statusCode).toBe(200);
    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    const failures = entries.filter((e) => e.action === 'mfa-failed');
    expect(failures.map((e) => [e.outcome.status, e.detail.reason])).toEqual([
      [401, 'wrong-code'],
      [401, 'wrong-code'],
      [401, 'wrong-code'],
      [401, 'wrong-code'],
      [429, 'backing-off'],
    ]);
    expect(failures.every((e) => e.where.address === '198.18.0.30')).toBe(true);
    // The completed login cleared the count: a wrong code is again one of five free tries.
    advance(60);
    const again = await secondLogin('mfa.guess', { code: '999999' });
    expect(again.res.statusCode).toBe(401);
  });

  it('[NPRM] 164.312 authentication: a recovery code works once in place of TOTP, is audited with how many remain, and its reuse is refused', async () => {
    address = 40;
    const { recoveryCodes } = await enrolledWithTotp('mfa.recover');
    const code = recoveryCodes[3] ?? '';
    const before = await lastAuditSeq(t.ward);
    const used = await secondLogin('mfa.recover', { recovery_code: code.toUpperCase().replaceAll('-', ' ') });
    expect(used.res.statusCode).toBe(200);
    expect((await send('GET', '/fhir/Patient?_count=1', used.browser)).statusCode).toBe(200);
    const reuse = await secondLogin('mfa.recover', { recovery_code: code });
    expect(reuse.res.statusCode).toBe(401);
    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entries.find((e) => e.action === 'recovery-code-used')).toMatchObject({ detail: { remaining: '9' } });
    expect(entries.find((e) => e.action === 'login')).toMatchObject({ detail: { method: 'password+recovery-code' } });
    expect(entries.find((e) => e.action === 'mfa-failed')).toMatchObject({ detail: { reason: 'unknown-or-used-recovery-code' } });
  });

  it('[NIST] 800-63B-4 §5.1: session ids are 256-bit random values, replaced at login and after MFA — a planted or pre-MFA id is worthless afterwards (no fixation)', async () => {
    address = 50;
    const { secret } = await enrolledWithTotp('mfa.fixation');
    advance(60);
    const planted = `${COOKIE}=${'A'.repeat(43)}`;
    const { browser: pending } = await passwordStep('mfa.fixation', planted);
    expect(pending.cookie).not.toBe(planted);
    expect(pending.cookie).toMatch(new RegExp(`^${COOKIE}=[A-Za-z0-9_-]{43}$`));
    expect((await send('GET', '/auth/session', { cookie: planted })).statusCode).toBe(401);
    const done = await send('POST', '/auth/mfa/verify', pending, { code: codeAt(secret, clock) });
    const browser = { cookie: cookieOf(done.headers['set-cookie']), csrf: done.json().csrf_token };
    expect(browser.cookie).not.toBe(pending.cookie);
    expect(browser.csrf).not.toBe(pending.csrf);
    // The pre-MFA id is revoked by the rotation, even for the routes it could use before.
    expect((await send('GET', '/auth/session', pending)).statusCode).toBe(401);
    expect((await send('GET', '/fhir/Patient?_count=1', pending)).statusCode).toBe(401);
    expect((await send('GET', '/auth/session', browser)).json()).toMatchObject({ state: 'authenticated' });
    // A second login gives another id; logging in while holding a session replaces that one too.
    advance(60);
    const second = await secondLogin('mfa.fixation', { code: codeAt(secret, clock) });
    expect(second.browser.cookie).not.toBe(browser.cookie);
    const ids = [browser.cookie, second.browser.cookie].map((c) => Buffer.from(c.split('=')[1] ?? '', 'base64url'));
    for (const id of ids) expect(id.length * 8).toBeGreaterThanOrEqual(128);
  });

  it('[NIST] 800-63B-4 §5.1.1: the session cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, with no Domain and an opaque value', async () => {
    address = 60;
    await account('mfa.cookie');
    const { res } = await passwordStep('mfa.cookie');
    const header = String(res.headers['set-cookie']);
    const [pair, ...attributes] = header.split(';').map((a) => a.trim());
    expect(pair).toMatch(new RegExp(`^${COOKIE}=[A-Za-z0-9_-]{43}$`));
    expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']));
    expect(header.toLowerCase()).not.toContain('domain=');
    expect(header).not.toContain('mfa.cookie');
  });

  it("[NIST] 800-63B-4 §5.1 (CSRF): a cookie-authenticated POST without the CSRF token, or with another session's, gets 403, changes nothing and is audited", async () => {
    address = 70;
    const { browser } = await enrolledWithTotp('mfa.csrf');
    const other = (await enrolledWithTotp('mfa.csrf2')).browser;
    const patient = { resourceType: 'Patient', gender: 'female', managingOrganization: { reference: 'Organization/session-unit' } };
    const count = async () =>
      Number((await t.ward.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ward_resource WHERE resource_type = 'Patient'`)).rows[0]?.n);
    const start = await count();
    const before = await lastAuditSeq(t.ward);
    const post = (csrf: string | undefined) =>
      t.http.app.inject({
        method: 'POST',
        url: '/fhir/Patient',
        headers: {
          cookie: browser.cookie,
          'content-type': 'application/fhir+json',
          ...(csrf !== undefined ? { 'x-csrf-token': csrf } : {}),
        },
        payload: JSON.stringify(patient),
      });
    const altered = `${browser.csrf.slice(0, -1)}${browser.csrf.endsWith('A') ? 'B' : 'A'}`;
    for (const csrf of [undefined, '', other.csrf, altered]) {
      const res = await post(csrf);
      expect(res.statusCode, String(csrf)).toBe(403);
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
    }
    expect(await count()).toBe(start);
    const refused = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(refused).toHaveLength(4);
    expect(refused.every((e) => e.outcome.status === 403 && e.outcome.code === 'WARD_CSRF_FAILED')).toBe(true);
    expect((await post(browser.csrf)).statusCode).toBe(201);
    expect(await count()).toBe(start + 1);
  });

  it('164.312(a)(2)(iii) · 170.315(d)(5): an idle session ends by itself after 15 minutes; activity at N−1 s resets the timer; a fresh login gets back in', async () => {
    address = 80;
    const { browser, secret } = await enrolledWithTotp('mfa.idle');
    const read = () => send('GET', '/fhir/Patient?_count=1', browser);
    const idle = t.config.sessionIdleMinutes * 60;
    expect(idle).toBe(15 * 60);
    advance(idle - 1);
    expect((await read()).statusCode).toBe(200);
    advance(idle - 1);
    expect((await read()).statusCode).toBe(200);
    // Polling the session's status is not activity.
    for (let i = 0; i < 2; i++) {
      advance(idle / 3);
      expect((await send('GET', '/auth/session', browser)).statusCode).toBe(200);
    }
    advance(idle / 3 + 1);
    expect((await read()).statusCode).toBe(401);
    const back = await secondLogin('mfa.idle', { code: codeAt(secret, clock) });
    expect((await send('GET', '/fhir/Patient?_count=1', back.browser)).statusCode).toBe(200);
  });

  it('[NIST] 800-63B-4 §2.2.3 / §2.3.3: a session kept busy is refused at its 12-hour overall limit', async () => {
    address = 90;
    const { browser } = await enrolledWithTotp('mfa.absolute');
    const hours = t.config.sessionMaxHours;
    expect(hours).toBe(12);
    for (let elapsed = 0; elapsed < hours * 3600 - 600; elapsed += 600) {
      advance(600);
      expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode, `after ${elapsed + 600} s`).toBe(200);
    }
    advance(600);
    expect((await send('GET', '/auth/session', browser)).statusCode).toBe(401);
    expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode).toBe(401);
  });

  it('[NIST] 800-63B-4 §5.1: logout ends the session — replaying its cookie gives 401; a user lists their sessions and revokes another one', async () => {
    address = 100;
    const { browser, secret } = await enrolledWithTotp('mfa.logout');
    advance(60);
    const laptop = (await secondLogin('mfa.logout', { code: codeAt(secret, clock) })).browser;
    const listed = await send('GET', '/auth/sessions', browser);
    expect(listed.statusCode).toBe(200);
    const sessions = listed.json().sessions as { id: string; current: boolean }[];
    expect(sessions).toHaveLength(2);
    const other = sessions.find((s) => !s.current);
    expect(JSON.stringify(sessions)).not.toContain(laptop.cookie.split('=')[1]);
    // Revoking needs the CSRF token too.
    expect((await send('DELETE', `/auth/sessions/${other?.id}`, { cookie: browser.cookie })).statusCode).toBe(403);
    expect((await send('DELETE', `/auth/sessions/${other?.id}`, browser)).statusCode).toBe(200);
    expect((await send('GET', '/fhir/Patient?_count=1', laptop)).statusCode).toBe(401);
    const before = await lastAuditSeq(t.ward);
    expect((await send('POST', '/auth/logout', browser)).statusCode).toBe(200);
    expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode).toBe(401);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'logout', outcome: { status: 200 } });
  });

  it('[NPRM] 164.308 workforce termination (1 h): deactivating a user revokes every open session at once, and the revocation is audited', async () => {
    address = 110;
    const { browser, user } = await enrolledWithTotp('mfa.leaver');
    expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode).toBe(200);
    const before = await lastAuditSeq(t.ward);
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'mfa.leaver');
    expect((await send('GET', '/fhir/Patient?_count=1', browser)).statusCode).toBe(401);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'user-deactivate', detail: { userId: user.id, sessionsRevoked: '1' } });
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (blocklist): a password change is checked against the blocklist, and a change revokes every session of the account at once', async () => {
    address = 115;
    const { browser, secret } = await enrolledWithTotp('mfa.rotate');
    advance(60);
    const other = (await secondLogin('mfa.rotate', { code: codeAt(secret, clock) })).browser;
    const change = (b: Partial<Browser>, current: string, next: string) =>
      send('POST', '/auth/password', b, { current_password: current, new_password: next });
    const weak = await change(browser, PASSWORD, 'password1234567');
    expect(weak.statusCode).toBe(400);
    expect(JSON.stringify(weak.json())).toContain('common or breached');
    expect((await change(browser, 'not my password at all', 'granite orchard 44 herons')).statusCode).toBe(401);
    expect((await change({ cookie: browser.cookie }, PASSWORD, 'granite orchard 44 herons')).statusCode).toBe(403);
    const before = await lastAuditSeq(t.ward);
    const ok = await change(browser, PASSWORD, 'granite orchard 44 herons');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ state: 'authenticated', sessions_revoked: 2 });
    for (const old of [browser, other]) expect((await send('GET', '/fhir/Patient?_count=1', old)).statusCode).toBe(401);
    const fresh = { cookie: cookieOf(ok.headers['set-cookie']), csrf: ok.json().csrf_token };
    expect((await send('GET', '/fhir/Patient?_count=1', fresh)).statusCode).toBe(200);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'password-change', outcome: { status: 200 }, detail: { sessionsRevoked: '2' } });
    expect(JSON.stringify(entry)).not.toContain('granite');
  });

  it('170.315(d)(12): the database holds no TOTP secret, recovery code or session id — the secret is sealed, codes and ids are hashed', async () => {
    address = 120;
    const { secret, recoveryCodes, browser, user } = await enrolledWithTotp('mfa.dump');
    const raw = Buffer.from(Secret.fromBase32(secret).buffer);
    const { rows } = await t.ward.db.query<{ secret: Uint8Array }>('SELECT secret FROM ward_mfa_totp WHERE user_id = $1', [user.id]);
    expect(Buffer.from(rows[0]?.secret ?? []).includes(raw)).toBe(false);
    const image = Buffer.concat(await databaseImage(t));
    const sessionId = browser.cookie.split('=')[1] ?? '';
    for (const value of [
      secret,
      raw.toString('hex'),
      sessionId,
      browser.csrf,
      ...recoveryCodes,
      ...recoveryCodes.map((c) => c.replaceAll('-', '')),
    ]) {
      expect(image.includes(Buffer.from(value)), value).toBe(false);
    }
    expect(image.includes(raw)).toBe(false);
  });
});
