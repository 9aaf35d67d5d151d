import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { createUser } from '../../src/app/user-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { databaseImage } from '../support/database-image.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';

const PASSWORD = 'violet harbor lantern 7 quilt';

describe.each(engines())('accounts and enrollment on %s', (engine) => {
  let t: TestWard;
  const operator = () => operatorPrincipal('test');

  const create = (username: string, extra: { roles?: string[]; patient?: string; practitioner?: string } = {}) =>
    t.ward.identity.accounts.create(operator().id, operatorContext('cli'), {
      username,
      name: 'Test Person',
      roles: extra.roles ?? ['physician'],
      ...(extra.patient ? { patient: extra.patient } : {}),
      ...(extra.practitioner ? { practitioner: extra.practitioner } : {}),
    });
  const post = (url: string, payload: unknown, remoteAddress = '192.0.2.10') =>
    t.http.app.inject({ method: 'POST', url, payload: payload as object, remoteAddress });

  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t?.close());

  it('164.312(a)(2)(i) · 170.315(d)(1)(i): a second user with the same case-folded username gets 409, and the refusal is audited', async () => {
    const first = await create('Dr.Okafor');
    const before = await lastAuditSeq(t.ward);
    await expect(create('dr.okafor')).rejects.toMatchObject({ code: 'WARD_USERNAME_TAKEN', status: 409 });
    await expect(create('  DR.OKAFOR ')).rejects.toMatchObject({ status: 409 });
    const entries = await auditRowsAfter(t.ward, before);
    expect(entries.map((e) => [e.parsed.action, e.parsed.outcome.status])).toEqual([
      ['user-create', 409],
      ['user-create', 409],
    ]);
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('164.312(a)(2)(i) · 170.315(d)(1)(i): a user id is never reissued — ids are unique, a deactivated username stays taken, and accounts cannot be deleted', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await create(`nurse${i}`, { roles: ['nurse'] })).id);
    expect(ids.size).toBe(20);
    await t.ward.identity.accounts.deactivate(operator().id, operatorContext('cli'), 'nurse3');
    await expect(create('nurse3', { roles: ['nurse'] })).rejects.toMatchObject({ status: 409 });
    if (t.ownerUrl) {
      // The serving role holds no DELETE on accounts: an id, once issued, stays with its account.
      const { rows } = await t.ward.db.query<{ d: boolean }>(`SELECT has_table_privilege(current_user, 'ward_user', 'DELETE') AS d`);
      expect(rows[0]?.d).toBe(false);
    }
  });

  it('the serving database connection cannot turn an account into another (roles, kind, link) or change roles or re-activate without a recorded privilege change', async () => {
    const u = await create('escalate.me', { roles: ['nurse'] });
    const attempts = [
      `UPDATE ward_user SET roles = '{system-admin,physician}' WHERE id = '${u.id}'`,
      `UPDATE ward_user SET kind = 'patient', roles = '{patient}', fhir_user = 'Patient/x' WHERE id = '${u.id}'`,
      `UPDATE ward_user SET fhir_user = 'Practitioner/someone-else' WHERE id = '${u.id}'`,
    ];
    for (const sql of attempts)
      await expect(t.ward.db.query(sql), sql).rejects.toThrow(/permission denied|do not change in place|recorded as a privilege change/);
    await t.ward.identity.accounts.deactivate(operator().id, operatorContext('cli'), 'escalate.me');
    await expect(t.ward.db.query(`UPDATE ward_user SET status = 'active' WHERE id = '${u.id}'`)).rejects.toThrow(
      /recorded as a privilege change/,
    );
    // Nor can an account be created with a patient's role beside workforce roles, whatever the caller.
    await expect(
      t.ward.db.query(
        `INSERT INTO ward_user (id, username_index, kind, roles, fhir_user, profile_key_id, profile_iv, profile, status, created_at)
         VALUES ('x-1', '\\x01', 'workforce', '{physician,patient}', 'Practitioner/x', 'k', '\\x00', '\\x00', 'invited', now())`,
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it('creates workforce and patient accounts with their links, and refuses mixed or unknown roles', async () => {
    const doc = await create('dr.mensah', { practitioner: 'Practitioner/p-77' });
    expect(doc.fhirUser).toBe('Practitioner/p-77');
    const clerk = await create('clerk.one', { roles: ['front-desk'] });
    expect(clerk.fhirUser).toBe(`User/${clerk.id}`);
    const pat = await create('pat.one@example.org', { roles: ['patient'], patient: 'b1f0c3e2-pat' });
    expect(pat).toMatchObject({ kind: 'patient', fhirUser: 'Patient/b1f0c3e2-pat' });
    await expect(create('mixed.one', { roles: ['physician', 'patient'] })).rejects.toMatchObject({ status: 400 });
    await expect(create('pat.two', { roles: ['physician'], patient: 'x1' })).rejects.toMatchObject({ status: 400 });
    await expect(create('bad.role', { roles: ['wizard'] })).rejects.toMatchObject({ status: 400 });
    await expect(create('x', {})).rejects.toMatchObject({ status: 400 });
  });

  it('ward user create prints the enrollment link with a 72-hour expiry and the code alone on the last line', async () => {
    const now = new Date();
    t.setNow(now);
    const out = await createUser(t.ward, operator(), operatorContext('cli'), { username: 'cli.user', name: 'C. User', roles: ['billing'] });
    t.setNow(null);
    const lines = out.split('\n');
    const code = lines[lines.length - 1] ?? '';
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(out).toContain(`https://ward.test/enroll#code=${code}`);
    expect(out).toContain(new Date(now.getTime() + 72 * 3600_000).toISOString());
  });

  it('enrollment sets the password once: a replayed code is refused with an OperationOutcome and audited', async () => {
    const u = await create('enrol.once');
    const before = await lastAuditSeq(t.ward);
    const ok = await post('/auth/enroll', { code: u.enrollmentCode, password: PASSWORD });
    expect(ok.statusCode).toBe(200);
    const replay = await post('/auth/enroll', { code: u.enrollmentCode, password: 'another long passphrase here' });
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    expect(JSON.stringify(replay.json())).toContain('WARD_ENROLLMENT_INVALID');
    const unknown = await post('/auth/enroll', { code: 'A'.repeat(43), password: PASSWORD });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).toBe(replay.body);
    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entries.map((e) => [e.action, e.outcome.status, e.detail?.reason])).toEqual([
      ['enroll', 200, undefined],
      ['enroll', 400, 'used'],
      ['enroll', 400, 'unknown-code'],
    ]);
    expect(entries.every((e) => e.where.address === '192.0.2.10')).toBe(true);
    const login = await post('/auth/login', { username: 'enrol.once', password: PASSWORD });
    expect(login.statusCode).toBe(200);
  });

  it('an enrollment code expires (72 hours by default)', async () => {
    const start = new Date();
    t.setNow(start);
    const u = await create('enrol.late');
    t.setNow(new Date(start.getTime() + 72 * 3600_000 + 1000));
    const late = await post('/auth/enroll', { code: u.enrollmentCode, password: PASSWORD });
    t.setNow(null);
    expect(late.statusCode).toBe(400);
    const last = (await auditRowsAfter(t.ward, (await lastAuditSeq(t.ward)) - 1))[0]?.parsed;
    expect(last).toMatchObject({ action: 'enroll', detail: { reason: 'expired' } });
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (blocklist): enrollment refuses a weak password with its reason and keeps the code usable', async () => {
    const u = await create('enrol.weak');
    for (const [password, reason] of [
      ['password1234567', 'common or breached'],
      ['short one', 'at least 15'],
      ['enrol.weak is my password', 'username'],
      ['x'.repeat(129), 'at most 128'],
    ] as const) {
      const res = await post('/auth/enroll', { code: u.enrollmentCode, password });
      expect(res.statusCode, password).toBe(400);
      expect(JSON.stringify(res.json()), password).toContain('WARD_PASSWORD_REJECTED');
      expect(JSON.stringify(res.json()), password).toContain(reason);
      expect(res.body).not.toContain(password);
    }
    expect((await post('/auth/enroll', { code: u.enrollmentCode, password: PASSWORD })).statusCode).toBe(200);
  });

  it('170.315(d)(12) · [NIST] 800-63B-4 §3.1.1.2 (storage): the database holds argon2id hashes with their parameters, never a password, an enrollment code or a patient username', async () => {
    const a = await create('same.pass.a');
    const b = await create('same.pass.b');
    const p = await create('jane.roe.private@example.org', { roles: ['patient'], patient: 'pat-dump-1' });
    for (const u of [a, b, p]) expect((await post('/auth/enroll', { code: u.enrollmentCode, password: PASSWORD })).statusCode).toBe(200);
    const pending = await create('pending.enrol');
    const { rows } = await t.ward.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM ward_user WHERE id = ANY($1) ORDER BY id',
      [[a.id, b.id]],
    );
    const hashes = rows.map((r) => r.password_hash);
    for (const h of hashes) expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22,}\$[A-Za-z0-9+/]{43}$/);
    expect(hashes[0]).not.toBe(hashes[1]);

    const image = Buffer.concat(await databaseImage(t));
    for (const secret of [PASSWORD, pending.enrollmentCode, a.enrollmentCode, 'jane.roe.private@example.org', 'Test Person']) {
      expect(image.includes(Buffer.from(secret)), secret).toBe(false);
    }
  });
});
