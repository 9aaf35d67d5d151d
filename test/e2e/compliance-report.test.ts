import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { createUser } from '../../src/app/user-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { httpsCall, readCa, runWard, startWardProcess, type WardProcess } from '../support/ward-process.js';
import { asBrowser, PASSWORD, workforceUser } from '../support/web-session.js';

const ROW = '[NPRM] 164.312 authentication · 170.315(d)(13)';

/** The (d)(13) criterion of a report. */
const d13 = (report: any) => report.criteria.find((c: any) => c.criterion === '170.315(d)(13)');

describe.each(engines())('the compliance report on %s', (engine) => {
  let t: TestWard;
  const op = () => operatorPrincipal('test');
  const ctx = () => operatorContext('cli');

  /** An account whose password is set but which never finished a first login (no second factor). */
  async function passwordOnly(username: string): Promise<string> {
    const out = await createUser(t.ward, op(), ctx(), {
      username,
      name: 'Half Enrolled',
      roles: ['nurse'],
      practitioner: 'Practitioner/half',
    });
    const res = await t.http.app.inject({
      method: 'POST',
      url: '/auth/enroll',
      payload: { code: out.split('\n').at(-1), password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    return out.split(' ')[1] ?? '';
  }

  beforeAll(async () => {
    // A step-up window other than the default, to see the report read the running configuration.
    t = await openTestWard(engine, { WARD_STEP_UP_MINUTES: '7', WARD_SESSION_IDLE_MINUTES: '10' });
  });
  afterAll(async () => t?.close());

  it(`${ROW}: the compliance report says "yes" for (d)(13), lists where MFA is used, and names the workforce accounts without a second factor by id only`, async () => {
    const admin = await workforceUser(t, 'report.admin', { roles: ['system-admin'], practitioner: 'Practitioner/reportadmin' });
    await workforceUser(t, 'report.nurse', { roles: ['nurse'], practitioner: 'Practitioner/reportnurse' });
    const halfId = await passwordOnly('report.half');
    await createUser(t.ward, op(), ctx(), { username: 'report.invited', name: 'Invited Only', roles: ['billing'] });

    const seq = await lastAuditSeq(t.ward);
    const res = await asBrowser(t, admin.session, 'GET', '/admin/compliance/report');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const c = d13(res.json());
    expect(c).toMatchObject({ answer: 'yes', rows: ['[NPRM] 164.312 authentication', '170.315(d)(13)'] });
    expect(c.mfaUsed.map((p: any) => [p.where.split(':')[0], p.secondFactor])).toEqual([
      ['web login', 'required'],
      ['first web login', 'required'],
      ['step-up', 'required'],
      ["authorization server's login page (SMART App Launch, /oauth/interaction)", 'required'],
    ]);
    expect(c.mfaUsed[0].who).toMatch(/physician.*nurse.*system-admin/);
    expect(c.mfaUsed[0].who).not.toMatch(/patient|proxy/);
    expect(c.mfaUsed[0].factors).toEqual(['totp', 'webauthn', 'recovery-code']);
    expect(c.mfaUsed[2].where).toMatch(/break-glass/);
    expect(c.withoutMfa.map((p: any) => p.who)).toEqual(['patient', 'system (registered client)', 'operator']);
    // From the running configuration…
    expect(c.configuration).toMatchObject({
      stepUpMinutes: 7,
      sessionIdleMinutes: 10,
      webauthn: { rpId: 'ward.test', origin: 'https://ward.test', userVerification: 'required' },
      totp: { standard: 'RFC 6238', replay: 'refused' },
      recoveryCodes: { count: 10 },
    });
    // …and from the data: only the half-enrolled account lacks a second factor, named by its id.
    expect(c.accounts).toMatchObject({
      workforceActive: 3,
      workforceInvited: 1,
      withTotp: 2,
      withWebauthn: 0,
      withoutSecondFactor: { count: 1, userIds: [halfId] },
      passwordChangeRequired: 0,
    });
    for (const text of ['report.half', 'Half Enrolled', 'report.nurse', 'Invited Only', 'Web Session User'])
      expect(res.body).not.toContain(text);
    const [entry] = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed);
    expect(entry).toMatchObject({
      action: 'compliance-report',
      who: { id: 'Practitioner/reportadmin', roles: ['system-admin'] },
      outcome: { status: 200 },
      detail: { criterion: '170.315(d)(13)', answer: 'yes', withoutSecondFactor: '1' },
    });
    expect(JSON.stringify(entry)).not.toContain(halfId);
  });

  it(`${ROW}: a privacy officer reads the report; a physician, an auditor and a patient get 403 (audited); no credentials get 401`, async () => {
    const officer = await t.token({ role: 'privacy-officer', sub: 'Practitioner/officer', scope: 'user/*.rs' });
    const ok = await t.http.app.inject({ method: 'GET', url: '/admin/compliance/report', headers: { authorization: `Bearer ${officer}` } });
    expect(ok.statusCode).toBe(200);
    expect(d13(ok.json()).answer).toBe('yes');

    const seq = await lastAuditSeq(t.ward);
    const refused = [
      await t.token({ role: 'physician', sub: 'Practitioner/nosy', scope: 'user/*.cruds' }),
      await t.token({ role: 'auditor', sub: 'Practitioner/audit', scope: 'user/*.rs' }),
      await t.token({ role: 'patient', sub: 'Patient/p1', scope: 'patient/*.rs' }),
    ];
    for (const token of refused) {
      const res = await t.http.app.inject({
        method: 'GET',
        url: '/admin/compliance/report',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json().issue[0].details.coding[0].code).toBe('WARD_POLICY_DENIED');
    }
    const entries = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed).filter((e) => e.action === 'compliance-report');
    expect(entries.map((e) => [e.action, e.who.id, e.outcome.status])).toEqual([
      ['compliance-report', 'Practitioner/nosy', 403],
      ['compliance-report', 'Practitioner/audit', 403],
      ['compliance-report', 'Patient/p1', 403],
    ]);
    expect((await t.http.app.inject({ method: 'GET', url: '/admin/compliance/report' })).statusCode).toBe(401);
  });

  it.skipIf(engine !== 'postgres')(
    `${ROW} · [NIST] 800-63B-4 §3.1.1.2 (compromise): \`ward compliance report\` and \`ward user mark-compromised\` from the CLI against PostgreSQL, audited as the operator`,
    async () => {
      const env = {
        WARD_DATA_DIR: t.config.dataDir,
        DATABASE_URL: t.ownerUrl ?? '',
        WARD_LOG_LEVEL: 'silent',
        WARD_BASE_URL: 'https://ward.test',
      };
      const user = await workforceUser(t, 'report.cli', { roles: ['pharmacist'], practitioner: 'Practitioner/reportcli' });
      const report = runWard(['compliance', 'report'], env);
      expect(report.status, report.stderr).toBe(0);
      expect(report.stderr).toBe('');
      const c = d13(JSON.parse(report.stdout));
      expect(c.answer).toBe('yes');
      expect(c.accounts.withTotp).toBeGreaterThanOrEqual(1);

      const seq = await lastAuditSeq(t.ward);
      const marked = runWard(['user', 'mark-compromised', 'report.cli'], env);
      expect(marked.status, marked.stderr).toBe(0);
      expect(marked.stdout).toMatch(/password marked compromised/);
      expect((await asBrowser(t, user.session, 'GET', '/fhir/Patient?_count=1')).statusCode).toBe(401);
      const entry = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed).find((e) => e.action === 'password-compromised');
      expect(entry).toMatchObject({ who: { kind: 'operator' }, where: { listener: 'cli' }, outcome: { status: 200 } });
      const after = d13(JSON.parse(runWard(['compliance', 'report'], env).stdout));
      expect(after.accounts.passwordChangeRequired).toBe(1);

      const unknown = runWard(['user', 'mark-compromised', 'report.nobody'], env);
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toMatch(/No account has that username/);
      expect(runWard(['user', 'mark-compromised'], env).status).toBe(2);
    },
  );
});

/**
 * The operator's commands against a running server on embedded PGlite: they reach it through the
 * admin socket, and the user feels the mark over HTTPS.
 */
describe('ward user mark-compromised and ward compliance report on a running server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-compromise-cli-'));
  const env = { WARD_DATA_DIR: dataDir, WARD_PORT: '0', WARD_LOG_LEVEL: 'warn' };
  let ward: WardProcess;
  let ca: string;

  beforeAll(async () => {
    ward = await startWardProcess(env);
    ca = readCa(dataDir);
  });
  afterAll(async () => {
    await ward?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, browser?: { cookie: string; csrf: string }, body?: object) =>
    httpsCall(`${ward.url}${path}`, {
      ca,
      method,
      headers: {
        ...(browser ? { cookie: browser.cookie, 'x-csrf-token': browser.csrf } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  const browserOf = (res: { headers: Record<string, unknown>; body: string }) => ({
    cookie: String(res.headers['set-cookie']).split(';')[0] ?? '',
    csrf: JSON.parse(res.body).csrf_token as string,
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (compromise): an operator marks a user compromised through the admin socket; the next login over HTTPS can only change the password', async () => {
    const created = runWard(
      ['user', 'create', '--username', 'cli.doc', '--name', 'Cli Doc', '--role', 'physician', '--practitioner', 'Practitioner/clidoc'],
      env,
    );
    expect(created.status, created.stderr).toBe(0);
    const code = created.stdout.trim().split('\n').at(-1);
    expect((await call('POST', '/auth/enroll', undefined, { code, password: PASSWORD })).status).toBe(200);
    const pending = browserOf(await call('POST', '/auth/login', undefined, { username: 'cli.doc', password: PASSWORD }));
    const { secret } = JSON.parse((await call('POST', '/auth/mfa/totp', pending)).body);
    const confirmed = await call('POST', '/auth/mfa/totp/confirm', pending, {
      code: new TOTP({ secret: Secret.fromBase32(secret) }).generate(),
    });
    expect(confirmed.status).toBe(200);
    const recovery = JSON.parse(confirmed.body).recovery_codes as string[];
    const first = browserOf(confirmed);
    expect((await call('GET', '/fhir/Patient?_count=1', first)).status).toBe(200);

    const report = runWard(['compliance', 'report'], env);
    expect(report.status, report.stderr).toBe(0);
    expect(d13(JSON.parse(report.stdout)).accounts).toMatchObject({ workforceActive: 1, withTotp: 1, withoutSecondFactor: { count: 0 } });

    const marked = runWard(['user', 'mark-compromised', 'cli.doc'], env);
    expect(marked.status, marked.stderr).toBe(0);
    expect((await call('GET', '/fhir/Patient?_count=1', first)).status).toBe(401);

    // Password, then a recovery code (the TOTP step of the enrollment is spent): a session that can only change the password.
    const again = browserOf(await call('POST', '/auth/login', undefined, { username: 'cli.doc', password: PASSWORD }));
    const restrictedRes = await call('POST', '/auth/mfa/verify', again, { recovery_code: recovery[0] });
    expect(restrictedRes.status).toBe(200);
    expect(JSON.parse(restrictedRes.body).password_change_required).toBe(true);
    const restricted = browserOf(restrictedRes);
    const refused = await call('GET', '/fhir/Patient?_count=1', restricted);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).issue[0].details.coding[0].code).toBe('WARD_PASSWORD_CHANGE_REQUIRED');
    const changed = await call('POST', '/auth/password', restricted, {
      current_password: PASSWORD,
      new_password: 'violet harbour 58 terns',
    });
    expect(changed.status).toBe(200);
    expect((await call('GET', '/fhir/Patient?_count=1', browserOf(changed))).status).toBe(200);
  });
});
