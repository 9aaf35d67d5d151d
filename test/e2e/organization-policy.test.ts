import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ward } from '../../src/app/ward.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { sessionClient, stepUp, workforceUser } from '../support/web-session.js';

const UNIT = 'Organization/unit-a';
const OTHER = 'Organization/unit-b';
const policyUrl = (org: string) => `/admin/organizations/${org.slice('Organization/'.length)}/policy`;

const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patientId}` },
});

async function audited(ward: Ward, request: () => Promise<Call>): Promise<{ res: Call; entries: any[] }> {
  const before = await lastAuditSeq(ward);
  const res = await request();
  return { res, entries: (await auditRowsAfter(ward, before)).map((r) => r.parsed) };
}

describe.each(engines())('organization policy overrides through the admin API, on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  let admin: FhirClient;
  const c: Record<string, FhirClient> = {};
  const id: Record<string, string> = {};

  const token = (role: string | string[], sub: string, scope = 'user/*.cruds', organization?: string) =>
    t.token({ role, sub, scope, ttl: '3h', ...(organization ? { organization } : {}) }).then((tk) => fhirClient(t, tk));
  /** A change as the system administrator, naming the version it replaces. */
  const change = (org: string, document: unknown, version: number, who: FhirClient = admin) =>
    who.put(policyUrl(org), document, { 'content-type': 'application/json', 'if-match': `W/"${version}"` });

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token(SERVICE));
    id.A = (await service.post('Patient', { resourceType: 'Patient', managingOrganization: { reference: UNIT } })).body.id;
    id.B = (await service.post('Patient', { resourceType: 'Patient', managingOrganization: { reference: OTHER } })).body.id;
    id.C = (await service.post('Patient', { resourceType: 'Patient' })).body.id;
    id.OA = (await service.post('Observation', observation(id.A as string))).body.id;
    id.OB = (await service.post('Observation', observation(id.B as string))).body.id;
    id.OC = (await service.post('Observation', observation(id.C as string))).body.id;
    admin = await token('system-admin', 'Practitioner/org-admin', 'user/*.cruds');
    c.docA = await token('physician', 'Practitioner/doc-a', 'user/*.cruds', UNIT);
    c.docB = await token('physician', 'Practitioner/doc-b', 'user/*.cruds', OTHER);
    c.officer = await token('privacy-officer', 'Practitioner/org-po', 'user/*.rs');
  }, 180_000);
  afterAll(async () => t?.close());

  it('[NPRM] 164.312(a)(2)(ii): only a system administrator changes an override — a physician, a privacy officer and the service each get 403 (a token mixing system-admin with a clinical role is not minted), audited, and nothing is stored', async () => {
    const attackers: [string, FhirClient][] = [
      ['physician of the unit', c.docA as FhirClient],
      ['privacy officer', c.officer as FhirClient],
      ['service', service],
    ];
    for (const [who, client] of attackers) {
      const { res, entries } = await audited(t.ward, () =>
        change(UNIT, { roles: { physician: { grant: [{ types: ['Account'], actions: ['read'] }] } } }, 0, client),
      );
      expect(res.status, who).toBe(403);
      expect(res.body.resourceType, who).toBe('OperationOutcome');
      expect(entries, who).toHaveLength(1);
      expect(entries[0], who).toMatchObject({ action: 'policy-override', decision: { effect: 'deny' }, outcome: { status: 403 } });
    }
    expect((await admin.get(`${policyUrl(UNIT)}/_history`)).body.versions).toEqual([]);
    // A token mixing system-admin with a clinical role is not even minted.
    await expect(token(['system-admin', 'physician'], 'Practitioner/mixed', 'user/*.cruds', UNIT)).rejects.toThrow(/separate account/);
    // Reading is for the administrator and the privacy officers (oversight); not for clinicians.
    expect((await c.docA?.get(policyUrl(UNIT)))?.status).toBe(403);
    expect((await c.officer?.get(policyUrl(UNIT)))?.status).toBe(200);
  });

  it('164.312(a)(1) · 164.502(b): an override that breaks a hard limit is refused with the limit named, audited, and nothing is stored; the administrator still reads no clinical PHI', async () => {
    const attempts: [unknown, string][] = [
      [
        { roles: { 'system-admin': { grant: [{ types: ['Observation', 'Patient'], actions: ['read', 'search'] }] } } },
        'limit/separation-of-duties',
      ],
      [{ roles: { physician: { showLabels: ['ETH'] } } }, 'limit/part-2'],
      [{ roles: { nurse: { showLabels: ['PSYTHPN'] } } }, 'limit/psychotherapy-notes'],
      [{ roles: { 'front-desk': { grant: [{ types: ['Observation'], actions: ['read'] }] } } }, 'limit/administrative-role'],
      [{ roles: { 'privacy-officer': { withhold: [{ types: '*', actions: ['read'] }] } } }, 'limit/fixed-role'],
      [{ roles: { physician: { clinical: false } } }, 'limit/unknown-key'],
    ];
    for (const [document, rule] of attempts) {
      const { res, entries } = await audited(t.ward, () => change(UNIT, document, 0));
      expect(res.status, rule).toBe(400);
      expect(JSON.stringify(res.body.issue), rule).toContain(rule);
      expect(entries[0], rule).toMatchObject({
        action: 'policy-override',
        outcome: { status: 400 },
        detail: { refused: expect.stringContaining(rule) },
      });
    }
    expect((await admin.get(policyUrl(UNIT))).body).toMatchObject({ version: 0, document: null, policyVersion: 'ward-policy-4' });
    expect((await admin.get(`Observation/${id.OA}`)).status).toBe(403);
  });

  it('164.312(b) · 164.312(a)(1): a change is a new version with who and when, audited as a configuration change; a stale If-Match is 412 and a missing one 428, both audited; every version stays readable', async () => {
    const first = await audited(t.ward, () => change(OTHER, { roles: { nurse: { hideLabels: ['HIV'] } } }, 0));
    expect(first.res.status).toBe(201);
    expect(first.res.headers.etag).toBe('W/"1"');
    expect(first.res.body).toMatchObject({
      organization: OTHER,
      version: 1,
      changedBy: 'Practitioner/org-admin',
      policyVersion: `ward-policy-4+${OTHER}@v1`,
    });
    expect(first.entries).toHaveLength(1);
    expect(first.entries[0]).toMatchObject({
      action: 'policy-override',
      who: { id: 'Practitioner/org-admin', roles: ['system-admin'] },
      decision: { effect: 'permit' },
      outcome: { status: 201 },
      detail: { organization: OTHER, version: '1', previous: '0', roles: 'nurse', digest: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });

    const stale = await audited(t.ward, () => change(OTHER, { breakGlass: 'enabled' }, 0));
    expect(stale.res.status).toBe(412);
    expect(stale.entries[0]).toMatchObject({ action: 'policy-override', outcome: { status: 412, code: 'WARD_VERSION_CONFLICT' } });
    const unnamed = await audited(t.ward, () => admin.put(policyUrl(OTHER), {}, { 'content-type': 'application/json' }));
    expect(unnamed.res.status).toBe(428);
    expect(unnamed.entries[0]).toMatchObject({ action: 'policy-override', outcome: { status: 428 } });
    // Two administrators racing from the same version: exactly one wins.
    const race = await Promise.all([change(OTHER, { breakGlass: 'enabled' }, 1), change(OTHER, {}, 1)]);
    expect(race.map((r) => r.status).sort()).toEqual([200, 412]);

    const current = await admin.get(policyUrl(OTHER));
    expect(current.status).toBe(200);
    expect(current.headers.etag).toBe('W/"2"');
    const history = await audited(t.ward, () => (c.officer as FhirClient).get(`${policyUrl(OTHER)}/_history`));
    expect(history.res.body.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect(history.res.body.versions[1]).toMatchObject({
      document: { roles: { nurse: { hideLabels: ['HIV'] } } },
      changedBy: 'Practitioner/org-admin',
    });
    expect(history.entries[0]).toMatchObject({
      action: 'policy-override-read',
      decision: { effect: 'permit' },
      detail: { organization: OTHER },
    });
    // The history cannot be rewritten, even by the database owner's role through Ward's connection.
    await expect(t.ward.db.query(`UPDATE ward_org_policy SET document = '{}' WHERE organization = $1`, [OTHER])).rejects.toThrow();
  });

  it('164.312(a)(1): a change takes effect on the next request, for that organization’s members only, and the decision names the override version; reverting is a new version', async () => {
    expect((await c.docA?.post('Observation', observation(id.A as string)))?.status).toBe(201);
    const narrowed = await change(
      UNIT,
      { roles: { physician: { withhold: [{ types: ['Observation'], actions: ['create', 'read', 'search'] }] } } },
      0,
    );
    expect(narrowed.status).toBe(201);
    const version = narrowed.body.version as number;

    const refused = await audited(t.ward, () => (c.docA as FhirClient).post('Observation', observation(id.A as string)));
    expect(refused.res.status).toBe(403);
    expect(refused.entries[0].decision.reasons[0]).toMatch(new RegExp(`^ward-policy-4\\+Organization/unit-a@v${version}/default-deny`));
    expect((await c.docA?.get(`Observation/${id.OA}`))?.status).toBe(403);
    // Another organization's physician is decided by the default policy.
    expect((await c.docB?.get(`Observation/${id.OB}`))?.status).toBe(200);
    // The privacy officer's explanation names the override too.
    const why = await c.officer?.get(
      `/admin/policy/explain?principal=Practitioner/doc-a&role=physician&action=read&target=Observation/${id.OA}&organization=${UNIT}`,
    );
    expect(why?.body).toMatchObject({ effect: 'deny', policyVersion: `ward-policy-4+${UNIT}@v${version}` });

    const reverted = await change(UNIT, {}, version);
    expect(reverted.status).toBe(200);
    const read = await audited(t.ward, () => (c.docA as FhirClient).get(`Observation/${id.OA}`));
    expect(read.res.status).toBe(200);
    expect(read.entries[0].decision.reasons.join('\n')).toContain(`ward-policy-4+${UNIT}@v${version + 1}/relationship/unit`);
  });

  it('164.312(a)(2)(ii) · 170.315(d)(6): break-glass disabled for an organization — its members’ requests are refused with a clear OperationOutcome and audited, a grant already in force stops lifting, and other organizations keep it', async () => {
    const justification = 'Collapsed in the waiting room; no relationship recorded';
    // Break-glass needs a recent step-up in a web session (ADR 0014): each physician signs in a
    // minute earlier (enrolling TOTP) and steps up now with the code of this moment.
    const steppedUp = async (username: string, practitioner: string, organization: string): Promise<FhirClient> => {
      t.setNow(new Date(Date.now() - 60_000));
      const user = await workforceUser(t, username, { roles: ['physician'], practitioner, organization });
      t.setNow(null);
      return sessionClient(t, await stepUp(t, user, user.session));
    };
    const docC = await steppedUp('doc.c', 'Practitioner/doc-c', UNIT);
    const docB = await steppedUp('doc.b', 'Practitioner/doc-b', OTHER);
    expect((await docC.get(`Observation/${id.OC}`)).status).toBe(404);
    const granted = await docC.post('/admin/break-glass', { patient: id.C, reasonCode: 'ETREAT', justification });
    expect(granted.status).toBe(201);
    expect((await docC.get(`Observation/${id.OC}`)).status).toBe(200);

    const current = (await admin.get(policyUrl(UNIT))).body.version as number;
    expect((await change(UNIT, { breakGlass: 'disabled' }, current)).status).toBe(200);
    const version = current + 1;

    const lifted = await audited(t.ward, () => docC.get(`Observation/${id.OC}`));
    expect(lifted.res.status).toBe(404);
    expect(lifted.entries[0].decision.reasons.join('\n')).toContain(`@v${version}/break-glass/disabled`);

    const refused = await audited(t.ward, () => docC.post('/admin/break-glass', { patient: id.C, reasonCode: 'ETREAT', justification }));
    expect(refused.res.status).toBe(403);
    expect(refused.res.body.issue[0]).toMatchObject({
      code: 'forbidden',
      details: {
        coding: [expect.objectContaining({ code: 'WARD_BREAK_GLASS_DISABLED' })],
        text: 'Break-glass is disabled for your organization.',
      },
    });
    expect(refused.res.raw.body).not.toContain('waiting room');
    expect(refused.entries).toHaveLength(1);
    expect(refused.entries[0]).toMatchObject({
      action: 'break-glass',
      decision: { effect: 'deny' },
      outcome: { status: 403, code: 'WARD_BREAK_GLASS_DISABLED' },
    });
    expect(refused.entries[0].decision.reasons[0]).toBe(
      `ward-policy-4+${UNIT}@v${version}/break-glass/disabled: ${UNIT} disabled break-glass`,
    );

    // A physician of another organization still breaks the glass.
    expect((await docB.post('/admin/break-glass', { patient: id.C, reasonCode: 'BTG', justification })).status).toBe(201);
  });
});
