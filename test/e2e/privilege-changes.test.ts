import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { createUser, deactivateUser, grantRole, reactivateUser, revokeRole } from '../../src/app/user-commands.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';

const PASSWORD = 'saffron lighthouse 27 puffins';

describe.each(engines())('privilege changes on %s', (engine) => {
  let t: TestWard;
  const op = () => operatorPrincipal('test');
  const ctx = () => operatorContext('cli');

  /** An account with its password set: created through `ward user create`, enrolled over HTTP. */
  async function account(username: string, roles: string[]) {
    const out = await createUser(t.ward, op(), ctx(), { username, name: 'Privilege Tester', roles });
    const code = out.split('\n').at(-1);
    const res = await t.http.app.inject({ method: 'POST', url: '/auth/enroll', payload: { code, password: PASSWORD } });
    expect(res.statusCode).toBe(200);
    return out.split(' ')[1] ?? '';
  }

  /** A complete web login (password, TOTP enrollment): the session cookie. */
  async function webSession(username: string): Promise<string> {
    const login = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username, password: PASSWORD } });
    const pending = { cookie: String(login.headers['set-cookie']).split(';')[0] ?? '', 'x-csrf-token': login.json().csrf_token };
    const { secret } = (await t.http.app.inject({ method: 'POST', url: '/auth/mfa/totp', headers: pending })).json();
    const code = new TOTP({ secret: Secret.fromBase32(secret) }).generate();
    const done = await t.http.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm', headers: pending, payload: { code } });
    expect(done.statusCode).toBe(200);
    return String(done.headers['set-cookie']).split(';')[0] ?? '';
  }
  const read = (cookie: string) => t.http.app.inject({ method: 'GET', url: '/fhir/Patient?_count=1', headers: { cookie } });

  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t?.close());

  it('170.210(e)(1) (privilege changes): create, grant role, revoke role, deactivate and re-enable each give an audit entry with actor, target and before/after roles', async () => {
    const before = await lastAuditSeq(t.ward);
    const id = await account('priv.nurse', ['nurse']);
    expect(await grantRole(t.ward, op(), ctx(), 'priv.nurse', 'medical-assistant')).toMatch(/role medical-assistant granted/);
    expect(await revokeRole(t.ward, op(), ctx(), 'priv.nurse', 'nurse')).toMatch(/role nurse revoked/);
    await deactivateUser(t.ward, op(), ctx(), 'priv.nurse');
    expect(await reactivateUser(t.ward, op(), ctx(), 'priv.nurse')).toMatch(/reactivated/);
    const entries = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed).filter((e) => e.who.kind === 'operator');
    expect(entries.map((e) => [e.action, e.who.id, e.detail.userId, e.detail.roles ?? e.detail.rolesBefore, e.detail.rolesAfter])).toEqual([
      ['user-create', 'operator:test', id, 'nurse', undefined],
      ['role-grant', 'operator:test', id, 'nurse', 'nurse medical-assistant'],
      ['role-revoke', 'operator:test', id, 'nurse medical-assistant', 'medical-assistant'],
      ['user-deactivate', 'operator:test', id, undefined, undefined],
      ['user-reactivate', 'operator:test', id, 'medical-assistant', undefined],
    ]);
    // The insert-only ledger holds the same changes.
    const { rows } = await t.ward.db.query<{ change: string; actor: string }>(
      'SELECT change, actor FROM ward_privilege_change WHERE user_id = $1 ORDER BY id',
      [id],
    );
    expect(rows.map((r) => [r.change, r.actor])).toEqual([
      ['grant-role', 'operator:test'],
      ['revoke-role', 'operator:test'],
      ['reactivate', 'operator:test'],
    ]);
    // The reactivated account logs in again (password step of a workforce login).
    const login = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'priv.nurse', password: PASSWORD } });
    expect(login.statusCode).toBe(200);
  });

  it("170.210(e)(1): a role change ends the account's sessions at once, so a revoked privilege is not kept by an open session", async () => {
    await account('priv.session', ['physician']);
    const cookie = await webSession('priv.session');
    expect((await read(cookie)).statusCode).toBe(200);
    const before = await lastAuditSeq(t.ward);
    await grantRole(t.ward, op(), ctx(), 'priv.session', 'pharmacist');
    expect((await read(cookie)).statusCode).toBe(401);
    const [entry] = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(entry).toMatchObject({ action: 'role-grant', detail: { sessionsRevoked: '1' } });
  });

  it('[NPRM] 164.312(a)(2)(ii) (proposed): one account cannot hold both a clinical and an administrative role — refused at create, at grant (audited) and by the database', async () => {
    await expect(
      createUser(t.ward, op(), ctx(), { username: 'priv.both', name: 'B', roles: ['physician', 'system-admin'] }),
    ).rejects.toThrow(/both a clinical and an administrative role/);
    await account('priv.doctor', ['physician']);
    await account('priv.admin', ['system-admin']);
    const before = await lastAuditSeq(t.ward);
    await expect(grantRole(t.ward, op(), ctx(), 'priv.doctor', 'system-admin')).rejects.toThrow(
      /both a clinical and an administrative role/,
    );
    await expect(grantRole(t.ward, op(), ctx(), 'priv.admin', 'nurse')).rejects.toThrow(/both a clinical and an administrative role/);
    await expect(grantRole(t.ward, op(), ctx(), 'priv.admin', 'billing')).rejects.toThrow(/administrative role is held alone/);
    const refusals = (await auditRowsAfter(t.ward, before)).map((e) => e.parsed);
    expect(refusals.map((e) => [e.action, e.outcome.status])).toEqual([
      ['role-grant', 400],
      ['role-grant', 400],
      ['role-grant', 400],
    ]);
    expect(refusals[0].detail.reason).toMatch(/clinical and an administrative/);
    // Nothing changed.
    const { rows } = await t.ward.db.query<{ roles: string[] }>(
      `SELECT roles FROM ward_user WHERE id IN (SELECT user_id FROM ward_privilege_change) OR roles && '{system-admin}' ORDER BY id`,
    );
    for (const r of rows) expect(r.roles.includes('system-admin') && r.roles.length > 1).toBe(false);
    // Even a serving connection that writes the ledger row itself cannot mix them.
    await expect(
      t.ward.db.transaction(async (tx) => {
        const { rows: u } = await tx.query<{ id: string }>(`SELECT id FROM ward_user WHERE roles = '{physician}' LIMIT 1`);
        const id = u[0]?.id;
        await tx.query(
          `INSERT INTO ward_privilege_change (user_id, actor, change, roles_before, roles_after, at) VALUES ($1, 'x', 'grant-role', '{physician}', '{physician,system-admin}', now())`,
          [id],
        );
        await tx.query(`UPDATE ward_user SET roles = '{physician,system-admin}' WHERE id = $1`, [id]);
      }),
    ).rejects.toThrow(/ward_user_admin_separate/);
  });

  it('refuses privilege changes that make no sense, and a role change on an unknown account is a 404 (audited)', async () => {
    await account('priv.odd', ['billing']);
    await expect(revokeRole(t.ward, op(), ctx(), 'priv.odd', 'billing')).rejects.toThrow(/at least one role/);
    await expect(revokeRole(t.ward, op(), ctx(), 'priv.odd', 'nurse')).rejects.toThrow(/does not hold/);
    await expect(grantRole(t.ward, op(), ctx(), 'priv.odd', 'patient')).rejects.toThrow(/cannot hold the roles patient/);
    await expect(grantRole(t.ward, op(), ctx(), 'priv.odd', 'wizard')).rejects.toThrow(/Unknown role/);
    await expect(reactivateUser(t.ward, op(), ctx(), 'priv.odd')).rejects.toThrow(/not deactivated/);
    await expect(grantRole(t.ward, op(), ctx(), 'priv.nobody', 'nurse')).rejects.toThrow(/No account/);
  });
});
