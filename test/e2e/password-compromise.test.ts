import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { createUser, markCompromised } from '../../src/app/user-commands.js';
import { Keyring, LocalKeyFileProvider } from '../../src/crypto/index.js';
import { oauthAdapterFactory } from '../../src/identity/oauth-adapter.js';
import { keyStore } from '../../src/store/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';
import { authorizationRequest, registerApp, signInAndConsent } from '../support/smart-app.js';
import {
  asBrowser,
  PASSWORD,
  sessionClient,
  sessionOf,
  totpAt,
  type WebSession,
  type WorkforceUser,
  workforceUser,
} from '../support/web-session.js';

const NEW_PASSWORD = 'quartz orchard 73 kingfishers';
const CHANGE_REQUIRED = 'WARD_PASSWORD_CHANGE_REQUIRED';

/** The error code an OperationOutcome carries. */
const codeOf = (body: string): string | undefined => JSON.parse(body).issue?.[0]?.details?.coding?.[0]?.code;

describe.each(engines())('a password marked compromised on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  let patientId: string;
  let clock = new Date('2031-09-01T08:00:00.000Z');
  /** Each TOTP code below is for a fresh 30-second step (a used step is refused as a replay). */
  const nextStep = () => {
    clock = new Date(clock.getTime() + 31_000);
    t.setNow(clock);
  };
  const op = () => operatorPrincipal('test');
  const ctx = () => operatorContext('cli');

  /** Password, then the TOTP code of this moment: the browser's session and the answer. */
  async function signIn(user: WorkforceUser, password = PASSWORD) {
    const first = await t.http.app.inject({ method: 'POST', url: '/auth/login', payload: { username: user.username, password } });
    if (first.statusCode !== 200) return { status: first.statusCode, body: first.body };
    nextStep();
    const done = await asBrowser(t, sessionOf(first), 'POST', '/auth/mfa/verify', { code: totpAt(user.secret, t.ward.now()) });
    return { status: done.statusCode, body: done.body, session: done.statusCode === 200 ? sessionOf(done) : undefined };
  }

  /** A physician on the patient's care team, through enrollment and a first login with TOTP. */
  async function physician(username: string): Promise<WorkforceUser> {
    nextStep();
    const practitioner = `Practitioner/${username.replace(/[^a-z0-9]/g, '')}`;
    const user = await workforceUser(t, username, { roles: ['physician'], practitioner });
    expect((await service.post('CareTeam', careTeam(patientId, practitioner))).status).toBe(201);
    return user;
  }

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(clock);
    service = fhirClient(t, await t.token(SERVICE));
    const created = await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Okafor', given: ['Ada'] }] });
    expect(created.status).toBe(201);
    patientId = created.body.id;
  });
  afterAll(async () => t?.close());

  it('[NIST] 800-63B-4 §3.1.1.2 (compromise): an admin marks the credential compromised; the next login must change the password before any PHI route answers 200', async () => {
    const user = await physician('comp.doctor');
    const before = await sessionClient(t, user.session).get(`Patient/${patientId}`);
    expect(before.status).toBe(200);

    const seq = await lastAuditSeq(t.ward);
    expect(await markCompromised(t.ward, op(), ctx(), 'comp.doctor')).toMatch(/password marked compromised/);
    const [marked] = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed);
    expect(marked).toMatchObject({
      action: 'password-compromised',
      who: { id: 'operator:test', kind: 'operator' },
      outcome: { status: 200 },
      detail: { sessionsRevoked: '1', oauthArtifactsRevoked: '0' },
    });
    const userId = marked.detail.userId as string;
    const { rows: ledger } = await t.ward.db.query<{ change: string; actor: string }>(
      'SELECT change, actor FROM ward_privilege_change WHERE user_id = $1 ORDER BY id',
      [userId],
    );
    expect(ledger).toEqual([{ change: 'mark-compromised', actor: 'operator:test' }]);

    // The next login with the right password and second factor gets a session that can only change the password.
    const loginSeq = await lastAuditSeq(t.ward);
    const forced = await signIn(user);
    expect(forced.status).toBe(200);
    expect(JSON.parse(forced.body)).toMatchObject({ state: 'authenticated', password_change_required: true });
    const restricted = forced.session as WebSession;
    const loginEntries = (await auditRowsAfter(t.ward, loginSeq)).map((e) => e.parsed);
    expect(loginEntries.map((e) => [e.action, e.outcome.status, e.detail.passwordChange])).toEqual([
      ['mfa-challenge', 200, 'required'],
      ['login', 200, 'required'],
    ]);
    const read = await sessionClient(t, restricted).get(`Patient/${patientId}`);
    expect(read.status).toBe(403);
    expect(codeOf(read.raw.body)).toBe(CHANGE_REQUIRED);
    const status = await asBrowser(t, restricted, 'GET', '/auth/session');
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ state: 'authenticated', password_change_required: true });

    // The change itself: the same password is refused; the blocklist applies as always; a new one works.
    const same = await asBrowser(t, restricted, 'POST', '/auth/password', { current_password: PASSWORD, new_password: PASSWORD });
    expect(same.statusCode).toBe(400);
    expect(same.json().issue[0].diagnostics).toMatch(/must differ from the current one/);
    const common = await asBrowser(t, restricted, 'POST', '/auth/password', {
      current_password: PASSWORD,
      new_password: 'password1234567',
    });
    expect(common.statusCode).toBe(400);
    expect(common.json().issue[0].diagnostics).toMatch(/common or breached/);
    const changeSeq = await lastAuditSeq(t.ward);
    const changed = await asBrowser(t, restricted, 'POST', '/auth/password', { current_password: PASSWORD, new_password: NEW_PASSWORD });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json().password_change_required).toBeUndefined();
    const [change] = (await auditRowsAfter(t.ward, changeSeq)).map((e) => e.parsed);
    expect(change).toMatchObject({
      action: 'password-change',
      outcome: { status: 200 },
      detail: { userId, forced: 'password-compromised', sessionsRevoked: '1' },
    });
    const { rows } = await t.ward.db.query<{ password_compromised_at: unknown }>(
      'SELECT password_compromised_at FROM ward_user WHERE id = $1',
      [userId],
    );
    expect(rows[0]?.password_compromised_at).toBeNull();

    // Only now does a PHI route answer 200 — on the session the change issued; the restricted one is gone.
    expect((await sessionClient(t, sessionOf(changed)).get(`Patient/${patientId}`)).status).toBe(200);
    expect((await sessionClient(t, restricted).get(`Patient/${patientId}`)).status).toBe(401);
    expect((await signIn(user, PASSWORD)).status).toBe(401);
    const fresh = await signIn(user, NEW_PASSWORD);
    expect(fresh.status).toBe(200);
    expect(JSON.parse(fresh.body).password_change_required).toBeUndefined();
    expect((await sessionClient(t, fresh.session as WebSession).get(`Patient/${patientId}`)).status).toBe(200);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (compromise) attack: the restricted session gets 403 on every FHIR read and every other route, each audited; the old cookie is refused', async () => {
    const user = await physician('comp.attacker');
    const old = user.session;
    await markCompromised(t.ward, op(), ctx(), 'comp.attacker');
    expect((await sessionClient(t, old).get(`Patient/${patientId}`)).status).toBe(401);
    expect((await asBrowser(t, old, 'GET', '/auth/session')).statusCode).toBe(401);

    const restricted = (await signIn(user)).session as WebSession;
    const fhir = sessionClient(t, restricted);
    const seq = await lastAuditSeq(t.ward);
    const reads = [
      `Patient/${patientId}`,
      'Patient?_count=10',
      `Observation?patient=${patientId}`,
      `Patient/${patientId}/_history`,
      `CareTeam?patient=${patientId}`,
      `Patient/${patientId}/$everything`,
    ];
    for (const url of reads) {
      const res = await fhir.get(url);
      expect(res.status, url).toBe(403);
      expect(codeOf(res.raw.body), url).toBe(CHANGE_REQUIRED);
      expect(res.raw.body).not.toContain('Okafor');
    }
    const entries = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed);
    expect(entries).toHaveLength(reads.length);
    for (const e of entries) {
      expect(e).toMatchObject({
        who: { id: 'Practitioner/compattacker', kind: 'user', roles: ['physician'] },
        outcome: { status: 403, code: CHANGE_REQUIRED },
      });
    }

    // Writes and everything else a signed-in session could do: refused the same way.
    const elsewhere: [string, 'GET' | 'POST' | 'DELETE', string, object?][] = [
      ['create', 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' } }],
      ['break-glass', 'POST', '/admin/break-glass', { patient: patientId, reason: 'ETREAT', justification: 'now' }],
      ['EHR launch', 'POST', '/auth/launch', { patient: patientId }],
      ['sessions', 'GET', '/auth/sessions'],
      ['step-up', 'POST', '/auth/step-up', { code: totpAt(user.secret, t.ward.now()) }],
      ['passkey registration', 'POST', '/auth/webauthn/register/options', {}],
      ['audit status', 'GET', '/admin/audit/status'],
      ['compliance report', 'GET', '/admin/compliance/report'],
    ];
    for (const [what, method, url, payload] of elsewhere) {
      const res = await asBrowser(t, restricted, method, url, payload);
      expect(res.statusCode, what).toBe(403);
      expect(codeOf(res.body), what).toBe(CHANGE_REQUIRED);
    }
    // Logout still works, and ends the restricted session.
    expect((await asBrowser(t, restricted, 'POST', '/auth/logout')).statusCode).toBe(200);
    expect((await asBrowser(t, restricted, 'GET', '/auth/session')).statusCode).toBe(401);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (compromise) attack: a stolen session and the password alone get nothing, and the marking is refused where it could not be proved', async () => {
    const user = await physician('comp.victim');
    // A second browser of the victim (or the thief's copy of the cookie): ended at once with the first.
    nextStep();
    const other = (await signIn(user)).session as WebSession;
    const seq = await lastAuditSeq(t.ward);
    await markCompromised(t.ward, op(), ctx(), 'comp.victim');
    const [marked] = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed);
    expect(marked.detail.sessionsRevoked).toBe('2');
    for (const s of [user.session, other]) expect((await sessionClient(t, s).get(`Patient/${patientId}`)).status).toBe(401);

    // The thief has the password but not the second factor: the pending session reaches nothing.
    const pending = await t.http.app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: user.username, password: PASSWORD },
    });
    expect(pending.statusCode).toBe(200);
    expect((await sessionClient(t, sessionOf(pending)).get(`Patient/${patientId}`)).status).toBe(401);
    const change = await asBrowser(t, sessionOf(pending), 'POST', '/auth/password', {
      current_password: PASSWORD,
      new_password: NEW_PASSWORD,
    });
    expect(change.statusCode).toBe(401);

    // Marking twice is allowed (and audited again); a patient account, an invited one or an unknown name are refused.
    await markCompromised(t.ward, op(), ctx(), 'comp.victim');
    await createUser(t.ward, op(), ctx(), { username: 'comp.invited', name: 'Not Yet', roles: ['nurse'] });
    const refusedSeq = await lastAuditSeq(t.ward);
    await expect(markCompromised(t.ward, op(), ctx(), 'comp.invited')).rejects.toThrow(/no password in use/);
    await createUser(t.ward, op(), ctx(), { username: 'comp.patient', name: 'P', roles: ['patient'], patient: patientId });
    await expect(markCompromised(t.ward, op(), ctx(), 'comp.patient')).rejects.toThrow(/no second factor to prove it/);
    await expect(markCompromised(t.ward, op(), ctx(), 'comp.nobody')).rejects.toThrow(/No account/);
    const refusals = (await auditRowsAfter(t.ward, refusedSeq)).map((e) => e.parsed).filter((e) => e.action === 'password-compromised');
    expect(refusals.map((e) => e.outcome.status)).toEqual([400, 400, 404]);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (compromise): the database refuses a mark without its ledger row, a mark on a patient account, and lifting a mark without a new password', async () => {
    await physician('comp.guarded');
    await createUser(t.ward, op(), ctx(), { username: 'comp.guarded.patient', name: 'P', roles: ['patient'], patient: patientId });
    const { rows } = await t.ward.db.query<{ id: string }>(
      `SELECT id FROM ward_user WHERE kind = 'workforce' AND status = 'active' AND password_compromised_at IS NULL LIMIT 1`,
    );
    const id = rows[0]?.id;
    await expect(t.ward.db.query('UPDATE ward_user SET password_compromised_at = now() WHERE id = $1', [id])).rejects.toThrow(
      /must be recorded as a privilege change/,
    );
    await markCompromised(t.ward, op(), ctx(), 'comp.guarded');
    await expect(
      t.ward.db.query(
        `UPDATE ward_user SET password_compromised_at = NULL WHERE password_compromised_at IS NOT NULL AND id IN
           (SELECT user_id FROM ward_privilege_change WHERE change = 'mark-compromised')`,
      ),
    ).rejects.toThrow(/cleared only by a new password/);
    await expect(
      t.ward.db.transaction(async (tx) => {
        const { rows: p } = await tx.query<{ id: string; roles: string[] }>(
          `SELECT id, roles FROM ward_user WHERE kind = 'patient' LIMIT 1`,
        );
        await tx.query(
          `INSERT INTO ward_privilege_change (user_id, actor, change, roles_before, roles_after, at) VALUES ($1, 'x', 'mark-compromised', $2, $2, now())`,
          [p[0]?.id, p[0]?.roles],
        );
        await tx.query('UPDATE ward_user SET password_compromised_at = now() WHERE id = $1', [p[0]?.id]);
      }),
    ).rejects.toThrow(/ward_user_compromise_workforce/);
  });

  it("[NIST] 800-63B-4 §3.1.1.2 (compromise) attack: an app's access and refresh tokens for the account stop at once, and the authorization server's login page refuses the account", async () => {
    const user = await physician('comp.app');
    const { clientId, config } = await registerApp(t, 'openid fhirUser user/*.rs', 'Charting Aid');
    const { rows } = await t.ward.db.query<{ id: string }>(`SELECT id FROM ward_user WHERE fhir_user = 'Practitioner/compapp'`);
    const accountId = rows[0]?.id ?? '';
    // What the authorization server stores when it grants the account's app tokens, written through
    // its own storage adapter (this build's login page does not yet sign workforce users in to apps).
    const keyring = await Keyring.open(keyStore(t.ward.db), LocalKeyFileProvider.open(t.config.rootKeyFile, { create: false }));
    const adapter = oauthAdapterFactory({ db: t.ward.db, keyring, now: () => t.ward.now() }) as (name: string) => {
      upsert(id: string, payload: object, expiresIn: number): Promise<void>;
      find(id: string): Promise<unknown>;
    };
    const accessToken = randomBytes(32).toString('base64url');
    const refreshToken = randomBytes(32).toString('base64url');
    const grant = { accountId, clientId, grantId: 'grant-comp-app' };
    await adapter('Grant').upsert('grant-comp-app', { ...grant, kind: 'Grant' }, 86_400);
    await adapter('AccessToken').upsert(accessToken, { ...grant, kind: 'AccessToken', scope: 'user/Patient.rs' }, 900);
    await adapter('RefreshToken').upsert(refreshToken, { ...grant, kind: 'RefreshToken', scope: 'user/Patient.rs' }, 86_400);
    const app = fhirClient(t, accessToken);
    expect((await app.get(`Patient/${patientId}`)).status).toBe(200);

    const seq = await lastAuditSeq(t.ward);
    await markCompromised(t.ward, op(), ctx(), user.username);
    const [marked] = (await auditRowsAfter(t.ward, seq)).map((e) => e.parsed);
    expect(marked.detail.oauthArtifactsRevoked).toBe('3');
    const refused = await app.get(`Patient/${patientId}`);
    expect(refused.status).toBe(401);
    expect(await adapter('RefreshToken').find(refreshToken)).toBeUndefined();
    const { rows: left } = await t.ward.db.query('SELECT 1 FROM ward_oauth_artifact WHERE account_id = $1', [accountId]);
    expect(left).toHaveLength(0);

    // A new sign-in to an app with the right (compromised) password is refused, and audited as such.
    const auth = await authorizationRequest(t, config, 'openid fhirUser user/Patient.rs');
    const loginSeq = await lastAuditSeq(t.ward);
    const { final } = await signInAndConsent(t, auth, user.username, { password: PASSWORD });
    expect(final.status).toBe(403);
    expect(final.location).toBeUndefined();
    const entries = (await auditRowsAfter(t.ward, loginSeq)).map((e) => e.parsed);
    expect(entries.find((e) => e.action === 'login-failed')).toMatchObject({
      outcome: { status: 403, code: CHANGE_REQUIRED },
      detail: { reason: 'password-compromised', userId: accountId },
    });
    expect(entries.some((e) => e.action === 'login' || e.action === 'consent' || e.action === 'token-grant')).toBe(false);
  });
});
