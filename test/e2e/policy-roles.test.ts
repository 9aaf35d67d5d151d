import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ward } from '../../src/app/ward.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam, encounterWith } from '../support/relationships.js';

const UNIT = 'Organization/unit-a';
const DAY_MS = 86_400_000;
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patientId}` },
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});
const condition = (patientId: string, code: string) => ({
  resourceType: 'Condition',
  subject: { reference: `Patient/${patientId}` },
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code }] },
});
const medicationRequest = (patientId: string) => ({
  resourceType: 'MedicationRequest',
  status: 'active',
  intent: 'order',
  medicationCodeableConcept: { text: 'amoxicillin 500 mg' },
  subject: { reference: `Patient/${patientId}` },
});
/** A privacy Consent (R4) of the patient with this root provision. */
const consent = (patientId: string, provision: Record<string, unknown>) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: `Patient/${patientId}` },
  policyRule: { coding: [{ system: ACT, code: 'OPTIN' }] },
  provision,
});
const actor = (reference: string) => ({
  role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
  reference: { reference },
});
const access = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }];

async function audited(ward: Ward, request: () => Promise<Call>): Promise<{ res: Call; entries: any[] }> {
  const before = await lastAuditSeq(ward);
  const res = await request();
  return { res, entries: (await auditRowsAfter(ward, before)).map((r) => r.parsed) };
}

const ids = (bundle: any): string[] => (bundle.entry ?? []).map((e: any) => e.resource.id);

describe.each(engines())('access policy per role, with relationships, consents and labels enforced, on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  const c: Record<string, FhirClient> = {};
  const id: Record<string, string> = {};

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token(SERVICE));
    const make = async (type: string, body: Record<string, unknown>): Promise<string> => {
      const res = await service.post(type, body);
      expect(res.status, type).toBe(201);
      return res.body.id;
    };
    id.A = await make('Patient', { resourceType: 'Patient', name: [{ family: 'Alpha' }], managingOrganization: { reference: UNIT } });
    id.B = await make('Patient', { resourceType: 'Patient', name: [{ family: 'Bravo' }] });
    id.nurseRole = await make('PractitionerRole', {
      resourceType: 'PractitionerRole',
      active: true,
      practitioner: { reference: 'Practitioner/nurse-1' },
    });
    id.endedRole = await make('PractitionerRole', {
      resourceType: 'PractitionerRole',
      active: false,
      practitioner: { reference: 'Practitioner/nurse-2' },
    });
    await make(
      'CareTeam',
      careTeam(
        id.A,
        'Practitioner/doc-team',
        `PractitionerRole/${id.nurseRole}`,
        `PractitionerRole/${id.endedRole}`,
        'Practitioner/pharm-1',
        'Practitioner/lab-1',
      ),
    );
    await make('Encounter', encounterWith(id.B, 'Practitioner/doc-enc'));
    await make('Encounter', encounterWith(id.B, 'Practitioner/doc-recent', new Date(Date.now() - DAY_MS)));
    await make('Encounter', encounterWith(id.B, 'Practitioner/doc-old', new Date(Date.now() - 5 * DAY_MS)));
    id.OA = await make('Observation', observation(id.A));
    id.OB = await make('Observation', observation(id.B));
    id.MA = await make('MedicationRequest', medicationRequest(id.A));
    id.MB = await make('MedicationRequest', medicationRequest(id.B));
    id.EB = (await service.get(`Encounter?patient=${id.B}&_count=1`)).body.entry[0].resource.id;
    id.R1 = await make('RelatedPerson', { resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${id.A}` } });
    id.R2 = await make('RelatedPerson', { resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${id.A}` } });
    id.proxyConsent = await make('Consent', consent(id.A, { type: 'permit', actor: [actor(`RelatedPerson/${id.R1}`)], action: access }));

    const token = (role: string, sub: string, scope = 'user/*.cruds', extra: { organization?: string; patient?: string } = {}) =>
      t.token({ role, sub, scope, ttl: '1h', ...extra }).then((tk) => fhirClient(t, tk));
    c.docTeam = await token('physician', 'Practitioner/doc-team');
    c.docEnc = await token('physician', 'Practitioner/doc-enc');
    c.docRecent = await token('physician', 'Practitioner/doc-recent');
    c.docOld = await token('physician', 'Practitioner/doc-old');
    c.docUnit = await token('physician', 'Practitioner/doc-unit', 'user/*.cruds', { organization: UNIT });
    c.docNone = await token('physician', 'Practitioner/doc-none');
    c.nurse = await token('nurse', 'Practitioner/nurse-1');
    c.nurseEnded = await token('nurse', 'Practitioner/nurse-2');
    c.pharmacist = await token('pharmacist', 'Practitioner/pharm-1');
    c.lab = await token('lab-technician', 'Practitioner/lab-1');
    c.frontDesk = await token('front-desk', 'Practitioner/fd-1');
    c.billing = await token('billing', 'Practitioner/bill-1', 'user/*.rs');
    c.officer = await token('privacy-officer', 'Practitioner/po-1', 'user/*.rs');
    c.admin = await token('system-admin', 'Practitioner/adm-1');
    c.patientA = await token('patient', `Patient/${id.A}`, 'patient/*.rs');
    c.proxy = await token('proxy', `RelatedPerson/${id.R1}`, 'user/*.rs');
    c.proxyWithoutConsent = await token('proxy', `RelatedPerson/${id.R2}`, 'user/*.rs');
  }, 180_000);
  afterAll(async () => t?.close());

  /** [who, request, expected status, a rule the audit entry's reasons name]; `{X}` is replaced by the id labelled X. */
  const cases: [string, string, string, number, RegExp?][] = [
    ['docTeam', 'a physician on the patient’s care team reads its Observation', 'GET Observation/{OA}', 200, /relationship\/care-team/],
    ['docTeam', 'a physician on A’s care team reads B’s Observation', 'GET Observation/{OB}', 404, /relationship\/required/],
    ['docEnc', 'a physician in B’s encounter in progress reads B’s Observation', 'GET Observation/{OB}', 200, /relationship\/encounter/],
    ['docEnc', 'a physician in B’s encounter reads A’s Observation', 'GET Observation/{OA}', 404, /relationship\/required/],
    ['docRecent', 'a physician of B’s encounter finished a day ago reads B’s Observation', 'GET Observation/{OB}', 200, /encounter/],
    ['docOld', 'a physician of B’s encounter finished five days ago reads B’s Observation', 'GET Observation/{OB}', 404],
    ['docUnit', 'a physician of A’s managing organization’s unit reads A’s Observation', 'GET Observation/{OA}', 200, /relationship\/unit/],
    ['docUnit', 'a physician of A’s unit reads B’s Observation', 'GET Observation/{OB}', 404],
    ['docNone', 'a physician without any relationship reads A’s Observation', 'GET Observation/{OA}', 404, /relationship\/required/],
    ['docNone', 'a physician without any relationship reads Patient A', 'GET Patient/{A}', 404],
    ['nurse', 'a nurse on the care team through a PractitionerRole reads A’s Observation', 'GET Observation/{OA}', 200, /care-team/],
    ['nurse', 'a nurse reads B’s Observation', 'GET Observation/{OB}', 404],
    [
      'nurseEnded',
      'a nurse on the care team only through an inactive PractitionerRole reads A’s Observation',
      'GET Observation/{OA}',
      404,
      /relationship\/required/,
    ],
    ['nurse', 'a nurse deletes A’s Observation', 'DELETE Observation/{OA}', 403, /default-deny/],
    ['pharmacist', 'a pharmacist on the care team reads A’s MedicationRequest', 'GET MedicationRequest/{MA}', 200],
    ['pharmacist', 'a pharmacist reads B’s MedicationRequest', 'GET MedicationRequest/{MB}', 404],
    ['pharmacist', 'a pharmacist searches DiagnosticReports', 'GET DiagnosticReport?patient={A}', 403, /default-deny/],
    ['lab', 'a lab technician on the care team reads A’s Observation', 'GET Observation/{OA}', 200],
    ['lab', 'a lab technician reads B’s Observation', 'GET Observation/{OB}', 404],
    ['lab', 'a lab technician reads a MedicationRequest', 'GET MedicationRequest/{MA}', 403],
    ['frontDesk', 'front desk reads Patient A (demographics, no relationship needed)', 'GET Patient/{A}', 200],
    ['frontDesk', 'front desk reads an Observation', 'GET Observation/{OA}', 403, /default-deny/],
    ['billing', 'billing reads B’s Encounter (masked)', 'GET Encounter/{EB}', 200, /mask\/billing\/Encounter/],
    ['billing', 'billing reads an Observation', 'GET Observation/{OA}', 403],
    ['officer', 'a privacy officer reads a Consent', 'GET Consent/{proxyConsent}', 200],
    ['officer', 'a privacy officer reads an Observation', 'GET Observation/{OA}', 403],
    ['admin', 'a system administrator reads Patient A', 'GET Patient/{A}', 403, /default-deny/],
    ['admin', 'a system administrator searches Organizations', 'GET Organization', 200],
    ['patientA', 'patient A reads its own Observation', 'GET Observation/{OA}', 200],
    ['patientA', 'patient A reads B’s Observation', 'GET Observation/{OB}', 404, /compartment\/patient/],
    ['proxy', 'a proxy linked to A and named by A’s consent reads A’s Observation', 'GET Observation/{OA}', 200, /proxy\/consent/],
    ['proxy', 'a proxy linked to A reads B’s Observation', 'GET Observation/{OB}', 404, /proxy\/link/],
    [
      'proxyWithoutConsent',
      'a proxy linked to A whom no consent names reads A’s Observation',
      'GET Observation/{OA}',
      404,
      /proxy\/consent/,
    ],
  ];

  it.each(cases)(
    '164.312(a)(1) · 170.315(d)(1)(ii): %s — %s → %s answers %i, audited with its decision',
    async (who, _what, request, status, rule) => {
      const [method, path] = request.split(' ') as [string, string];
      const url = path.replace(/\{(\w+)\}/g, (_m, k: string) => id[k] as string);
      const client = c[who] as FhirClient;
      const { res, entries } = await audited(t.ward, () => client.call(method as 'GET', url));
      expect(res.status).toBe(status);
      expect(entries).toHaveLength(1);
      expect(entries[0].outcome.status).toBe(status);
      expect(entries[0].decision.effect).toBe(status < 400 ? 'permit' : 'deny');
      if (rule) expect(entries[0].decision.reasons.join('\n')).toMatch(rule);
      if (status === 404) {
        // No existence oracle: exactly what a missing id of the same type answers.
        const missing = await client.call('GET', url.replace(/\/[^/]+$/, `/${randomUUID()}`));
        expect(res.body).toEqual(missing.body);
        expect(res.raw.body).not.toContain(url.split('/')[1] as string);
      }
    },
  );

  it('164.502(b) · 164.514(d): a nurse on the care team writes vitals but not Coverage or Claim', async () => {
    expect((await c.nurse?.post('Observation', observation(id.A as string)))?.status).toBe(201);
    for (const type of ['Coverage', 'Claim']) {
      const { res, entries } = await audited(t.ward, () => (c.nurse as FhirClient).post(type, { resourceType: type, status: 'active' }));
      expect(res.status, type).toBe(403);
      expect(entries[0]).toMatchObject({ action: 'create', resourceType: type, decision: { effect: 'deny' }, outcome: { status: 403 } });
    }
  });

  it('164.312(a)(1): a search finds A’s Observation for the nurse whose active PractitionerRole is on the care team, and nothing for one whose role is inactive', async () => {
    const path = `Observation?patient=${id.A}&_total=accurate`;
    const active = await (c.nurse as FhirClient).get(path);
    expect(active.status).toBe(200);
    expect(ids(active.body)).toContain(id.OA);
    const ended = await (c.nurseEnded as FhirClient).get(path);
    expect(ended.status).toBe(200);
    expect(ids(ended.body)).toEqual([]);
    expect(ended.body.total).toBe(0);
  });

  it('164.312(a)(1): a Patient search by a physician of A’s unit finds A, decided on the unit of the Patient it found, and not B', async () => {
    const res = await (c.docUnit as FhirClient).get(`Patient?_id=${id.A},${id.B}&_total=accurate`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([id.A]);
    expect(res.body.total).toBe(1);
  });

  it('164.312(a)(1) (no existence oracle): search totals count only what the caller may see, for a physician and for a patient', async () => {
    const all = (await service.get('Observation?code=8867-4&_total=accurate')).body.total;
    const team = await c.docTeam?.get('Observation?code=8867-4&_total=accurate');
    expect(team?.body.total).toBeLessThan(all);
    expect(ids(team?.body)).toContain(id.OA);
    expect(ids(team?.body)).not.toContain(id.OB);
    const none = await c.docNone?.get('Observation?code=8867-4&_total=accurate');
    expect(none?.body.total).toBe(0);
    expect(none?.raw.body).not.toContain(id.OA);
    const count = await c.docEnc?.get('Observation?_summary=count');
    expect(count?.body.total).toBe(1);
  });

  it("164.312(a)(1) (compartment): patient A reaching B's Observation by id, search, compartment or history gets no data from B, and each refusal is audited", async () => {
    const A = c.patientA as FhirClient;
    for (const url of [
      `Observation?patient=${id.B}&_total=accurate`,
      `Observation?_id=${id.OB}&_total=accurate`,
      `Patient/${id.B}/Observation?_total=accurate`,
      `Observation?subject=Patient/${id.B}&_total=accurate`,
    ]) {
      const { res, entries } = await audited(t.ward, () => A.get(url));
      expect(res.status, url).toBe(200);
      expect(res.body.total, url).toBe(0);
      // The query the caller typed comes back in the self link; nothing of B's does.
      expect(res.body.entry ?? [], url).toEqual([]);
      expect(res.raw.body, url).not.toContain('beats/minute');
      expect(entries, url).toHaveLength(1);
      expect(entries[0].returned ?? [], url).toEqual([]);
    }
    const missing = await A.get(`Observation/${randomUUID()}/_history`);
    const history = await A.get(`Observation/${id.OB}/_history`);
    expect(history.status).toBe(missing.status);
    expect(history.body.entry ?? []).toEqual(missing.body.entry ?? []);
  });

  it('164.312(a)(1): a consent that denies a named practitioner takes effect on the next request, the change is audited, and its removal restores access', async () => {
    const doc = c.docTeam as FhirClient;
    expect((await doc.get(`Observation/${id.OA}`)).status).toBe(200);
    const deny = consent(id.A as string, { type: 'permit', provision: [{ type: 'deny', actor: [actor('Practitioner/doc-team')] }] });
    const written = await audited(t.ward, () => service.post('Consent', deny));
    expect(written.res.status).toBe(201);
    expect(written.entries[0]).toMatchObject({ action: 'create', resourceType: 'Consent', patientId: id.A, outcome: { status: 201 } });
    const refused = await audited(t.ward, () => doc.get(`Observation/${id.OA}`));
    expect(refused.res.status).toBe(404);
    expect(refused.entries[0].decision.reasons.join('\n')).toMatch(/consent\/.*deny/);
    expect((await doc.get(`Observation?patient=${id.A}&_total=accurate`)).body.total).toBe(0);
    // The consent names one practitioner; the unit's physician still treats the patient.
    expect((await c.docUnit?.get(`Observation/${id.OA}`))?.status).toBe(200);
    const revoked = await audited(t.ward, () => service.delete(`Consent/${written.res.body.id}`));
    expect(revoked.entries[0]).toMatchObject({ action: 'delete', resourceType: 'Consent', outcome: { status: 200 } });
    expect((await doc.get(`Observation/${id.OA}`)).status).toBe(200);
  });

  it('42 CFR Part 2 §2.12–2.13 (labels): an SUD-labelled Condition is missing from read and search for a physician on the care team, and totals do not count it', async () => {
    const sud = (await service.post('Condition', condition(id.A as string, 'F10.20'))).body.id;
    await service.post('Condition', condition(id.A as string, 'E11.9'));
    const doc = c.docTeam as FhirClient;
    const missing = await doc.get(`Condition/${randomUUID()}`);
    const { res, entries } = await audited(t.ward, () => doc.get(`Condition/${sud}`));
    expect(res.status).toBe(404);
    expect(res.body).toEqual(missing.body);
    expect(entries[0].decision.reasons.join('\n')).toMatch(/label\/ETH/);
    const search = await doc.get(`Condition?patient=${id.A}&_total=accurate`);
    expect(search.body.total).toBe(1);
    expect(search.raw.body).not.toContain(sud);
    expect(search.raw.body).not.toContain('F10.20');
  });

  it('42 CFR Part 2 §2.31 (consent scope): a consent naming the recipient and the SUD class lets that recipient read, not another; expiry and revocation end it', async () => {
    const sud = (await service.post('Condition', condition(id.A as string, 'F11.20'))).body.id;
    const doc = c.docTeam as FhirClient;
    expect((await doc.get(`Condition/${sud}`)).status).toBe(404);
    const permit = consent(id.A as string, {
      type: 'permit',
      period: { end: '2099-12-31' },
      actor: [actor('Practitioner/doc-team')],
      action: access,
      securityLabel: [{ system: ACT, code: 'ETH' }],
    });
    const granted = await service.post('Consent', permit);
    expect(granted.status).toBe(201);
    const read = await doc.get(`Condition/${sud}`);
    expect(read.status).toBe(200);
    expect(read.body.code.coding[0].code).toBe('F11.20');
    // Y, not named: the unit's physician is still refused.
    expect((await c.docUnit?.get(`Condition/${sud}`))?.status).toBe(404);
    // After the consent's end (fake clock; a fresh token for that time), X is refused.
    t.setNow(new Date('2100-01-02T00:00:00Z'));
    try {
      const later = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/doc-team', scope: 'user/*.rs' }));
      expect((await later.get(`Condition/${sud}`)).status).toBe(404);
    } finally {
      t.setNow(null);
    }
    // Revocation is honoured on the next request.
    expect((await service.put(`Consent/${granted.body.id}`, { ...granted.body, status: 'inactive' })).status).toBe(200);
    expect((await doc.get(`Condition/${sud}`)).status).toBe(404);
  });
  it('164.312(a)(1): a privacy officer asks why a physician is refused or permitted, and gets the decision and its rules without any resource data, audited', async () => {
    const officer = c.officer as FhirClient;
    const url = (who: string, extra = '') =>
      `/admin/policy/explain?principal=Practitioner/${who}&role=physician&action=read&target=Observation/${id.OA}${extra}`;
    const { res, entries } = await audited(t.ward, () => officer.get(url('doc-none')));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ policyVersion: 'ward-policy-4', effect: 'deny', target: `Observation/${id.OA}` });
    expect(res.body.reasons.map((r: { rule: string }) => r.rule)).toContain('relationship/required');
    expect(res.raw.body).not.toMatch(/8867-4|beats|Alpha/);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'policy-explain',
      who: { id: 'Practitioner/po-1' },
      resourceType: 'Observation',
      resourceId: id.OA,
      patientId: id.A,
      decision: { effect: 'permit' },
      detail: { principal: 'Practitioner/doc-none', effect: 'deny' },
    });
    const team = await officer.get(url('doc-team'));
    expect(team.body.effect).toBe('permit');
    expect(team.body.reasons.map((r: { rule: string }) => r.rule)).toContain('relationship/care-team');
    const unit = await officer.get(url('doc-x', `&organization=${UNIT}`));
    expect(unit.body.reasons.map((r: { rule: string }) => r.rule)).toContain('relationship/unit');
    expect(
      (await officer.get(`/admin/policy/explain?principal=Practitioner/x&role=wizard&action=read&target=Observation/${id.OA}`)).status,
    ).toBe(400);
  });

  it('164.312(a)(1): anyone but a privacy officer asking for an explanation gets 403, audited', async () => {
    for (const who of ['docTeam', 'admin', 'patientA'] as const) {
      const url = `/admin/policy/explain?principal=Practitioner/doc-none&role=physician&action=read&target=Observation/${id.OA}`;
      const { res, entries } = await audited(t.ward, () => (c[who] as FhirClient).get(url));
      expect(res.status, who).toBe(403);
      expect(res.raw.body).not.toContain('relationship');
      expect(entries[0], who).toMatchObject({ action: 'policy-explain', decision: { effect: 'deny' }, outcome: { status: 403 } });
    }
  });
});
