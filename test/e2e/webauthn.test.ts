import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { TestAuthenticator } from '../support/test-authenticator.js';

const PASSWORD = 'cobalt meadow 58 kingfishers';
type Headers = Record<string, string>;

describe.each(engines())('WebAuthn on %s', (engine) => {
  let t: TestWard;
  const post = (url: string, headers: Headers, payload?: object) =>
    t.http.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
  const browserOf = (res: { headers: Record<string, unknown>; json(): { csrf_token: string } }): Headers => ({
    cookie: String(res.headers['set-cookie']).split(';')[0] ?? '',
    'x-csrf-token': res.json().csrf_token,
  });
  const passwordStep = async (username: string) =>
    browserOf(await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } }));

  /** An account through its first login (TOTP) that then registers the test authenticator. */
  async function withSecurityKey(username: string, key: TestAuthenticator): Promise<void> {
    const u = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
      username,
      name: 'Key Holder',
      roles: ['physician'],
    });
    expect((await post('/auth/enroll', {}, { code: u.enrollmentCode, password: PASSWORD })).statusCode).toBe(200);
    const pending = await passwordStep(username);
    const { secret } = (await post('/auth/mfa/totp', pending)).json();
    const code = new TOTP({ secret: Secret.fromBase32(secret) }).generate();
    const session = browserOf(await post('/auth/mfa/totp/confirm', pending, { code }));
    const options = (await post('/auth/webauthn/register/options', session)).json();
    expect(options).toMatchObject({
      rp: { id: 'ward.test' },
      authenticatorSelection: { userVerification: 'required' },
      attestation: 'none',
    });
    const registered = await post('/auth/webauthn/register', session, key.create(options));
    expect(registered.statusCode).toBe(200);
    await post('/auth/logout', session);
  }

  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t?.close());

  it('[NIST] 800-63B-4 §2.2.2: a security key registers and then completes a login with UV=required; the login is audited as password+webauthn', async () => {
    const key = new TestAuthenticator('https://ward.test', 'ward.test');
    await withSecurityKey('key.holder', key);
    const pending = await passwordStep('key.holder');
    const options = (await post('/auth/mfa/webauthn/options', pending)).json();
    expect(options).toMatchObject({ rpId: 'ward.test', userVerification: 'required' });
    const before = await lastAuditSeq(t.ward);
    const done = await post('/auth/mfa/webauthn', pending, key.get(options));
    expect(done.statusCode).toBe(200);
    expect(done.json().state).toBe('authenticated');
    const read = await t.http.app.inject({
      method: 'GET',
      url: '/fhir/Patient?_count=1',
      headers: { cookie: browserOf(done).cookie ?? '' },
    });
    expect(read.statusCode).toBe(200);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'login', detail: { method: 'password+webauthn' } });
  });

  it('[NIST] 800-63B-4 §2.2.2: an assertion made for another origin or rpId, one without user verification, and a replayed one are refused and audited', async () => {
    const key = new TestAuthenticator('https://ward.test', 'ward.test');
    await withSecurityKey('key.attacked', key);
    const pending = await passwordStep('key.attacked');
    const before = await lastAuditSeq(t.ward);
    for (const ceremony of [{ origin: 'https://ward.test.evil.example' }, { rpId: 'evil.example' }, { userVerified: false }]) {
      const options = (await post('/auth/mfa/webauthn/options', pending)).json();
      const res = await post('/auth/mfa/webauthn', pending, key.get(options, ceremony));
      expect(res.statusCode, JSON.stringify(ceremony)).toBe(401);
    }
    const options = (await post('/auth/mfa/webauthn/options', pending)).json();
    const assertion = key.get(options);
    const ok = await post('/auth/mfa/webauthn', pending, assertion);
    expect(ok.statusCode).toBe(200);
    // The same assertion again, on a new login: its challenge was spent (and belonged to another session).
    const next = await passwordStep('key.attacked');
    expect((await post('/auth/mfa/webauthn', next, assertion)).statusCode).toBe(401);
    const failures = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed).filter((e) => e.action === 'mfa-failed');
    expect(failures.map((e) => [e.detail.factor, e.detail.reason])).toEqual(Array(4).fill(['webauthn', 'webauthn-not-verified']));
  });

  it('[NIST] 800-63B-4 §2.2.2: a registration made for another origin is refused, and registering needs a fully authenticated session', async () => {
    const key = new TestAuthenticator('https://ward.test', 'ward.test');
    const u = await t.ward.identity.accounts.create(operatorPrincipal('test').id, operatorContext('cli'), {
      username: 'key.phished',
      name: 'K',
      roles: ['nurse'],
    });
    expect((await post('/auth/enroll', {}, { code: u.enrollmentCode, password: PASSWORD })).statusCode).toBe(200);
    const pending = await passwordStep('key.phished');
    expect((await post('/auth/webauthn/register/options', pending)).statusCode).toBe(401);
    const { secret } = (await post('/auth/mfa/totp', pending)).json();
    const session = browserOf(
      await post('/auth/mfa/totp/confirm', pending, { code: new TOTP({ secret: Secret.fromBase32(secret) }).generate() }),
    );
    const options = (await post('/auth/webauthn/register/options', session)).json();
    expect((await post('/auth/webauthn/register', session, key.create(options, { origin: 'https://evil.example' }))).statusCode).toBe(401);
    // The refused registration spent its challenge.
    expect((await post('/auth/webauthn/register', session, key.create(options))).statusCode).toBe(401);
  });
});
