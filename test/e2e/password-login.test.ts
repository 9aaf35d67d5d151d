import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { unlockUser } from '../../src/app/user-commands.js';
import { argon2idHasher, type PasswordHasher } from '../../src/identity/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { asBrowser, sessionOf } from '../support/web-session.js';

const PASSWORD = 'copper kettle meadow 42 owls';

/** The real argon2id hasher, observed: which encoded hashes each verification ran against. */
function observedHasher(): PasswordHasher & { verified: string[] } {
  const real = argon2idHasher();
  const verified: string[] = [];
  return {
    verified,
    hash: (p) => real.hash(p),
    verify: (encoded, p) => {
      verified.push(encoded);
      return real.verify(encoded, p);
    },
  };
}

describe.each(engines())('password login on %s', (engine) => {
  let t: TestWard;
  let clock = new Date('2031-03-01T08:00:00Z');
  const hasher = observedHasher();
  const advance = (seconds: number) => {
    clock = new Date(clock.getTime() + seconds * 1000);
    t.setNow(clock);
  };
  const login = (username: string, password: string, remoteAddress = '198.51.100.7') =>
    t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password }, remoteAddress });

  async function enrolled(
    username: string,
    options: { roles?: string[]; patient?: string; practitioner?: string; password?: string; organization?: string } = {},
  ) {
    const u = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
      username,
      name: 'Login Tester',
      roles: options.roles ?? ['physician'],
      ...(options.patient ? { patient: options.patient } : {}),
      ...(options.practitioner ? { practitioner: options.practitioner } : {}),
      ...(options.organization ? { organization: options.organization } : {}),
    });
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/auth/enroll',
      payload: { code: u.enrollmentCode, password: options.password ?? PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    return u;
  }

  beforeAll(async () => {
    // A small address window keeps the spraying test short; the per-account tests use fresh addresses.
    t = await openTestWard(engine, {}, { passwordHasher: hasher, addressThrottle: { maxFailures: 10, windowMs: 60_000 } });
    t.setNow(clock);
  });
  afterAll(async () => t?.close());

  it('[NPRM] 164.312 authentication · 170.315(d)(13): a right workforce password yields only an mfa-enrollment-required session, never a token or PHI; the step is audited', async () => {
    const u = await enrolled('dr.login', { practitioner: 'Practitioner/pr-login' });
    const before = await lastAuditSeq(t.ward);
    const res = await login('DR.Login', PASSWORD);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ state: 'mfa-enrollment-required' });
    expect(body.access_token).toBeUndefined();
    const cookie = String(res.headers['set-cookie']).split(';')[0] ?? '';
    const read = await t.http.app.inject({ method: 'GET', url: '/fhir/Patient?_count=1', headers: { cookie } });
    expect(read.statusCode).toBe(401);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({
      action: 'mfa-challenge',
      who: { id: 'Practitioner/pr-login' },
      where: { address: '198.51.100.7', route: '/auth/login' },
      detail: { userId: u.id, next: 'totp-enrollment' },
    });
    expect(JSON.stringify(entry)).not.toContain(PASSWORD);
  });

  it('a patient account logs in as its Patient with a 15-minute patient/ token, and the login is audited', async () => {
    const u = await enrolled('pat.login', { roles: ['patient'], patient: 'pat-login-1' });
    const before = await lastAuditSeq(t.ward);
    const p = (await login('pat.login', PASSWORD)).json();
    expect(p).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'patient/*.rs' });
    const principal = await t.ward.tokens.verify(p.access_token);
    expect(principal).toMatchObject({ id: 'Patient/pat-login-1', patient: 'pat-login-1', clientId: 'ward-login' });
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'login', detail: { userId: u.id, jti: principal.tokenId } });
    expect(JSON.stringify(entry)).not.toContain(p.access_token);
  });

  it('164.312(d): no user enumeration — unknown user, wrong password, deactivated and not-yet-enrolled answer the same 401 body', async () => {
    await enrolled('gone.soon');
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'gone.soon');
    await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
      username: 'never.enrolled',
      name: 'N',
      roles: ['nurse'],
    });
    await enrolled('real.user');
    const answers = [
      await login('no.such.user', PASSWORD, '203.0.113.1'),
      await login('real.user', 'wrong passphrase entirely', '203.0.113.2'),
      await login('gone.soon', PASSWORD, '203.0.113.3'),
      await login('never.enrolled', PASSWORD, '203.0.113.4'),
    ];
    for (const a of answers) {
      expect(a.statusCode).toBe(401);
      expect(a.body).toBe(answers[0]?.body);
      expect(a.headers['content-type']).toBe(answers[0]?.headers['content-type']);
    }
    expect(answers[0]?.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
  });

  it('164.312(d): an unknown username still costs one argon2id verification, against a hash with the same parameters', async () => {
    await enrolled('timing.real');
    const params = (h: string | undefined) => h?.split('$').slice(1, 4).join('$');
    hasher.verified.length = 0;
    await login('timing.real', 'not the right passphrase', '203.0.113.20');
    await login('timing.nobody', 'not the right passphrase', '203.0.113.21');
    await login('gone.soon', PASSWORD, '203.0.113.22');
    expect(hasher.verified).toHaveLength(3);
    const [real, unknown, deactivated] = hasher.verified;
    expect(params(unknown)).toBe(params(real));
    expect(params(deactivated)).toBe(params(real));
    expect(params(real)).toBe('argon2id$v=19$m=19456,t=2,p=1');
  });

  it('the deactivation of an account takes effect at once: the next login is refused and audited as deactivated', async () => {
    await enrolled('leaver');
    expect((await login('leaver', PASSWORD, '203.0.113.30')).statusCode).toBe(200);
    await t.ward.identity.accounts.deactivate(operatorPrincipal('test').id, operatorContext('cli'), 'leaver');
    const before = await lastAuditSeq(t.ward);
    expect((await login('leaver', PASSWORD, '203.0.113.30')).statusCode).toBe(401);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'login-failed', outcome: { status: 401 }, detail: { reason: 'deactivated' } });
  });

  it('every failed login is audited with the source address; an unknown username only as a keyed hash', async () => {
    const before = await lastAuditSeq(t.ward);
    await login('Mystery.Person@example.org', PASSWORD, '203.0.113.40');
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({
      action: 'login-failed',
      who: { id: 'anonymous' },
      where: { address: '203.0.113.40' },
      detail: { reason: 'unknown-user' },
    });
    expect(entry.detail.usernameHash).toMatch(/^hmac:[0-9a-f]{32}$/);
    expect(JSON.stringify(entry).toLowerCase()).not.toContain('mystery');
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (length): a 100-character passphrase with spaces and emoji works, and its first 72 characters do not (no truncation)', async () => {
    const long = `${'sea glass 🐚 lighthouse keeper '.repeat(4)}`.slice(0, 100);
    await enrolled('long.pass', { password: long });
    expect((await login('long.pass', long, '203.0.113.50')).statusCode).toBe(200);
    expect((await login('long.pass', [...long].slice(0, 72).join(''), '203.0.113.51')).statusCode).toBe(401);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (no folklore): an account whose password is 400 days old still logs in', async () => {
    await enrolled('old.pass');
    advance(400 * 24 * 3600);
    expect((await login('old.pass', PASSWORD, '203.0.113.60')).statusCode).toBe(200);
  });

  it('[NIST] 800-63B-4 §3.2.2: after 5 failures each try backs off exponentially with 429 and Retry-After, without checking the password', async () => {
    // A patient account: its password alone completes a login (a workforce login completes with MFA, test/e2e/mfa.test.ts).
    await enrolled('backoff.user', { roles: ['patient'], patient: 'pat-backoff' });
    for (let i = 0; i < 5; i++) expect((await login('backoff.user', 'wrong wrong wrong', `203.0.113.${70 + i}`)).statusCode).toBe(401);
    hasher.verified.length = 0;
    const waiting = await login('backoff.user', PASSWORD, '203.0.113.80');
    expect(waiting.statusCode).toBe(429);
    expect(waiting.headers['retry-after']).toBe('1');
    expect(waiting.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    expect(hasher.verified).toHaveLength(0);
    advance(1);
    expect((await login('backoff.user', 'wrong wrong wrong', '203.0.113.81')).statusCode).toBe(401);
    const second = await login('backoff.user', PASSWORD, '203.0.113.82');
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('2');
    advance(2);
    // A successful login resets the count: the next failure is again one of five free tries.
    expect((await login('backoff.user', PASSWORD, '203.0.113.83')).statusCode).toBe(200);
    expect((await login('backoff.user', 'wrong wrong wrong', '203.0.113.84')).statusCode).toBe(401);
    expect((await login('backoff.user', PASSWORD, '203.0.113.85')).statusCode).toBe(200);
  });

  it('[NIST] 800-63B-4 §3.2.2: after 100 wrong passwords in a row the right one is refused too, and the lockout is audited', async () => {
    await enrolled('locked.user');
    const before = await lastAuditSeq(t.ward);
    for (let i = 1; i <= 100; i++) {
      const res = await login('locked.user', `wrong guess number ${i}`, `10.1.${Math.floor(i / 200)}.${i % 200}`);
      expect(res.statusCode, `try ${i}`).toBe(401);
      advance(301);
    }
    const right = await login('locked.user', PASSWORD, '10.2.0.1');
    expect(right.statusCode).toBe(401);
    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    const locked = entries.filter((e) => e.action === 'account-locked');
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ detail: { failures: '100' } });
    expect(entries.filter((e) => e.action === 'login-failed')).toHaveLength(101);
    expect(entries[entries.length - 1]).toMatchObject({ action: 'login-failed', detail: { reason: 'locked' } });
    expect(entries.every((e) => typeof e.where.address === 'string')).toBe(true);
  });

  it('[NIST] 800-63B-4 §3.2.2: an operator lifts the lock with ward user unlock (audited), and the right password logs in again', async () => {
    // locked.user was locked by the previous test.
    expect((await login('locked.user', PASSWORD, '10.3.0.1')).statusCode).toBe(401);
    const before = await lastAuditSeq(t.ward);
    const unlocked = await unlockUser(t.ward, operatorPrincipal('test'), operatorContext('cli'), 'locked.user');
    expect(unlocked).toMatch(/^user .+ unlocked$/);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'account-unlock', who: { id: 'operator:test' }, detail: { failuresBefore: '100' } });
    expect((await login('locked.user', PASSWORD, '10.3.0.2')).statusCode).toBe(200);
    await expect(unlockUser(t.ward, operatorPrincipal('test'), operatorContext('cli'), 'nobody.here')).rejects.toThrow(/No account/);
  });

  it('throttles password spraying from one source address across many usernames, and audits it', async () => {
    const before = await lastAuditSeq(t.ward);
    for (let i = 0; i < 10; i++) expect((await login(`spray.target${i}`, 'Summer2031 passphrase', '192.0.2.99')).statusCode).toBe(401);
    await enrolled('spray.real');
    const blocked = await login('spray.real', PASSWORD, '192.0.2.99');
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected.
    expect((await login('spray.real', PASSWORD, '192.0.2.100')).statusCode).toBe(200);
    const last = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed).find((e) => e.outcome.status === 429);
    expect(last).toMatchObject({ action: 'login-failed', where: { address: '192.0.2.99' }, detail: { reason: 'address-throttled' } });
    advance(61);
    expect((await login('spray.real', PASSWORD, '192.0.2.99')).statusCode).toBe(200);
  });

  it('164.308(a)(5)(ii)(C): the failures report lists, per user and for a period, the failed logins, the lockout and the MFA failures with their source addresses; an earlier period lists none of them', async () => {
    // locked.user failed 100 passwords and was locked (tests above); one more user now fails a TOTP code.
    await enrolled('mfa.fails', { practitioner: 'Practitioner/pr-mfa-fails' });
    const pending = sessionOf(await login('mfa.fails', PASSWORD, '203.0.113.77'));
    expect((await asBrowser(t, pending, 'POST', '/auth/mfa/totp')).statusCode).toBe(200);
    const wrong = await asBrowser(t, pending, 'POST', '/auth/mfa/totp/confirm', { code: '000000' });
    expect(wrong.statusCode).toBe(401);
    // The report groups by the entry's principal column (the account, `User/<id>`).
    const rows = await auditRowsAfter(t.ward);
    const lockedUser = rows.find((r) => r.parsed.action === 'account-locked')?.principalId as string;
    const mfaRow = rows.filter((r) => r.parsed.action === 'mfa-failed').at(-1);
    const mfaUser = mfaRow?.principalId as string;
    const mfaFailure = mfaRow?.parsed;
    expect(lockedUser).toBeTruthy();
    expect(mfaUser).toBeTruthy();

    const officer = await t.token({ role: 'privacy-officer', sub: 'Practitioner/po-logins', scope: 'user/*.rs' });
    const report = async (query: string) => {
      const res = await t.http.app.inject({
        method: 'GET',
        url: `/admin/audit/failures?${query}`,
        headers: { authorization: `Bearer ${officer}` },
      });
      expect(res.statusCode).toBe(200);
      return res.json().principals as {
        principal: string;
        total: number;
        addresses: string[];
        byOutcome: { status: number; code: string | null; count: number }[];
      }[];
    };
    // The back-off between tries moved the fake clock on: the period runs from the first day to the clock's.
    const day = await report(`from=2031-03-01&to=${new Date(clock.getTime() + 86_400_000).toISOString().slice(0, 10)}`);
    const locked = day.find((p) => p.principal === lockedUser);
    // 100 wrong passwords, the lockout, and the right password refused while locked (and again before the unlock).
    expect(locked?.total).toBeGreaterThanOrEqual(102);
    expect(locked?.addresses).toEqual(expect.arrayContaining(['10.1.0.1', '10.1.0.99', '10.2.0.1']));
    expect(locked?.byOutcome.reduce((n, o) => n + o.count, 0)).toBe(locked?.total);
    const mfa = day.find((p) => p.principal === mfaUser);
    expect(mfa?.addresses).toEqual([mfaFailure?.where.address]);
    expect(mfa?.byOutcome).toEqual([expect.objectContaining({ status: 401, code: 'WARD_MFA_FAILED', count: 1 })]);
    const before = await report('from=2031-02-01&to=2031-02-28');
    expect(before.map((p) => p.principal)).not.toContain(lockedUser);
    expect(before.map((p) => p.principal)).not.toContain(mfaUser);
  });

  it('counts parallel tries from one address before any password is checked, so a burst cannot outrun the window', async () => {
    hasher.verified.length = 0;
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(`burst.target${i}`, 'Autumn2031 passphrase', '192.0.2.150')),
    );
    const statuses = burst.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    // Only the ten admitted tries paid for an argon2 verification.
    expect(hasher.verified).toHaveLength(10);
  });

  it('counts an IPv6 source by its /64, so rotating addresses inside one network does not escape the window', async () => {
    const inNetwork = (i: number) => `2001:db8:aa:bb::${(i + 1).toString(16)}`;
    for (let i = 0; i < 10; i++) expect((await login(`v6.target${i}`, 'Winter2031 passphrase', inNetwork(i))).statusCode).toBe(401);
    expect((await login('v6.target99', 'Winter2031 passphrase', '2001:db8:aa:bb:ffff:1:2:3')).statusCode).toBe(429);
    expect((await login('v6.target98', 'Winter2031 passphrase', '2001:db8:aa:cc::1')).statusCode).toBe(401);
  });

  it('does not hold failures counted against a username before the account existed against its new owner', async () => {
    for (let i = 0; i < 6; i++) await login('future.hire', 'wrong guess before hiring', `198.51.100.${60 + i}`);
    await enrolled('future.hire');
    expect((await login('future.hire', PASSWORD, '198.51.100.70')).statusCode).toBe(200);
  });

  it('refuses a login or enrollment body over 16 KiB with 413 before reading it', async () => {
    const big = { username: 'someone', password: 'x'.repeat(20 * 1024) };
    for (const url of ['/auth/login', '/auth/enroll']) {
      const res = await t.http.app.inject({ method: 'POST', url, payload: big, remoteAddress: '198.51.100.80' });
      expect(res.statusCode, url).toBe(413);
      expect(res.json().resourceType).toBe('OperationOutcome');
    }
  });

  it('refuses a malformed login body with 400', async () => {
    const res = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().resourceType).toBe('OperationOutcome');
  });
});
