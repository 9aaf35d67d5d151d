import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const ref = (key: string) => ({ reference: key });

const observation = (patient: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: ref(patient),
  ...extra,
});
const condition = (patient: string, code: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Condition',
  subject: ref(patient),
  code: { coding: [{ system: ICD10, code }] },
  ...extra,
});
const consentFor = (patient: string, actor: string, provision: Record<string, unknown> = {}) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: ref(patient),
  policyRule: { coding: [{ system: ACT, code: 'OPTIN' }] },
  provision: {
    type: 'permit',
    actor: [
      { role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: ref(actor) },
    ],
    action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }],
    ...provision,
  },
});

const keys = (res: Call): string[] => (res.body.entry ?? []).map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
const sorted = (a: readonly string[]) => [...a].sort();

/**
 * Who gets what of one patient's `$everything`: a record with a plain Observation, a Condition
 * labelled ETH (ICD-10-CM F10.20), a Condition labelled PSY whose asserter is a practitioner
 * nothing else names, a psychotherapy note, and supporting resources — each caller's answer is
 * worked out here from the policy's rules (ADR 0009), and checked exactly.
 */
describe.each(engines())('Patient/$everything under the access policy on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  const k: Record<string, string> = {};
  const c: Record<string, FhirClient> = {};

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token({ ...SERVICE, ttl: '1h' }));
    const make = async (label: string, body: Record<string, unknown>) => {
      const res = await service.post(body.resourceType as string, body);
      expect(res.status, label).toBe(201);
      k[label] = `${body.resourceType}/${res.body.id}`;
      return k[label] as string;
    };
    await make('doc', { resourceType: 'Practitioner', name: [{ family: 'Doc' }] });
    await make('psyDoc', { resourceType: 'Practitioner', name: [{ family: 'Shrink' }] });
    await make('org', { resourceType: 'Organization', name: 'Clinic' });
    await make('med', { resourceType: 'Medication', code: { text: 'amoxicillin 500 mg' } });
    const A = await make('A', { resourceType: 'Patient', name: [{ family: 'Alpha' }], generalPractitioner: [ref(k.doc as string)] });
    const B = await make('B', { resourceType: 'Patient', name: [{ family: 'Bravo' }] });
    await make('team', careTeam(A.split('/')[1] as string, 'Practitioner/doc-team', 'Practitioner/nurse-team'));
    await make('obs', observation(A, { effectiveDateTime: '2021-06-01T10:00:00Z' }));
    await make('obsOld', observation(A, { effectiveDateTime: '2019-06-01T10:00:00Z' }));
    await make('obsUndated', observation(A));
    await make('eth', condition(A, 'F10.20', { onsetDateTime: '2021-02-01' }));
    await make('psy', condition(A, 'E11.9', { meta: { security: [{ system: ACT, code: 'PSY' }] }, asserter: ref(k.psyDoc as string) }));
    // No role may write or read a psychotherapy note without the patient's authorisation (164.508(a)(2)):
    // the records service of the clinic that files it holds one, naming the clinic and the PSYTHPN class.
    const psythpn = [{ system: ACT, code: 'PSYTHPN' }];
    await make('authorisation', consentFor(A, k.org as string, { action: undefined, securityLabel: psythpn }));
    const records = fhirClient(t, await t.token({ ...SERVICE, organization: k.org as string }));
    const note = await records.post('Observation', observation(A, { meta: { security: psythpn }, performer: [ref(k.psyDoc as string)] }));
    expect(note.status).toBe(201);
    k.note = `Observation/${note.body.id}`;
    await make('medReq', {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      medicationReference: ref(k.med as string),
      subject: ref(A),
      requester: ref(k.doc as string),
      authoredOn: '2020-03-01',
    });
    await make('enc', {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: ref(A),
      serviceProvider: ref(k.org as string),
      period: { start: '2018-05-01T09:00:00Z', end: '2018-05-01T10:00:00Z' },
    });
    await make('proxyLink', { resourceType: 'RelatedPerson', active: true, patient: ref(A) });
    await make('otherLink', { resourceType: 'RelatedPerson', active: true, patient: ref(A) });
    await make('consent', consentFor(A, k.proxyLink as string));
    await make('obsB', observation(B));

    const token = (role: string, sub: string, scope = 'user/*.rs') =>
      t.token({ role, sub, scope, ttl: '1h' }).then((tk) => fhirClient(t, tk));
    c.physician = await token('physician', 'Practitioner/doc-team');
    c.nurse = await token('nurse', 'Practitioner/nurse-team');
    c.physicianWithout = await token('physician', 'Practitioner/doc-elsewhere');
    c.nurseWithout = await token('nurse', 'Practitioner/nurse-elsewhere');
    c.patientA = await token('patient', A, 'patient/*.rs');
    c.proxy = await token('proxy', k.proxyLink as string);
    c.proxyWithoutConsent = await token('proxy', k.otherLink as string);
    c.admin = await token('system-admin', 'Practitioner/adm-1', 'user/*.cruds');
  }, 180_000);
  afterAll(async () => t?.close());

  const of = (...labels: string[]) => sorted(labels.map((l) => k[l] as string));
  const record = [
    ...['A', 'team', 'obs', 'obsOld', 'obsUndated', 'eth', 'psy', 'note', 'medReq', 'enc'],
    ...['proxyLink', 'otherLink', 'consent', 'authorisation'],
  ];
  const without = (list: string[], ...drop: string[]) => list.filter((l) => !drop.includes(l));

  async function everything(who: string, query = '_count=500'): Promise<{ res: Call; entries: any[] }> {
    const before = await lastAuditSeq(t.ward);
    const res = await (c[who] as FhirClient).get(`${k.A}/$everything?${query}`);
    return { res, entries: (await auditRowsAfter(t.ward, before)).map((r) => r.parsed) };
  }

  it.each([
    // The physician sees PSY but not ETH (Part 2); psyDoc comes through the visible PSY Condition.
    ['physician', [...without(record, 'eth', 'note'), 'doc', 'org', 'med', 'psyDoc']],
    // The nurse sees neither label nor Consent; psyDoc, named only by resources the nurse cannot see, stays out.
    ['nurse', [...without(record, 'eth', 'psy', 'note', 'consent', 'authorisation'), 'doc', 'org', 'med']],
    // A proxy sees no labelled data.
    ['proxy', [...without(record, 'eth', 'psy', 'note'), 'doc', 'org', 'med']],
  ])(
    '164.312(a)(1) · 170.315(d)(1)(ii) · 42 CFR Part 2 §2.12–2.13 (labels): a %s on the care team or linked by consent gets exactly what the policy lets it see',
    async (who, labels) => {
      const { res, entries } = await everything(who);
      expect(res.status).toBe(200);
      expect(sorted(keys(res))).toEqual(of(...labels));
      expect(res.body.total).toBe(labels.length);
      expect(entries).toHaveLength(1);
      expect(sorted(entries[0].returned)).toEqual(of(...labels));
      if (!labels.includes('psyDoc')) expect(JSON.stringify(res.body)).not.toContain('Shrink');
    },
  );

  it('164.524 (incl. (a)(1) exclusions): the patient gets every resource of their record except the psychotherapy note', async () => {
    const { res, entries } = await everything('patientA');
    expect(res.status).toBe(200);
    // The practitioners, organizations and medications the record names are directory resources a
    // patient reads (ADR 0009); psyDoc comes through the PSY Condition, which the patient sees.
    expect(sorted(keys(res))).toEqual(of(...without(record, 'note'), 'doc', 'psyDoc', 'org', 'med'));
    expect(keys(res)).not.toContain(k.note);
    expect(entries[0]).toMatchObject({ action: 'search', patientId: k.A?.split('/')[1], decision: { effect: 'permit' } });
    // Request and fulfilment times are both recorded.
    expect(Date.parse(entries[0].detail.requested)).toBeLessThanOrEqual(Date.parse(entries[0].time));
    // Paging counts only what the patient may see: pages of 4 hold 4 until the last, and give each id once.
    const seen: string[] = [];
    for (let url: string | undefined = `/fhir/${k.A}/$everything?_count=4`; url; ) {
      const page: Call = await (c.patientA as FhirClient).get(url.replace('https://ward.test', ''));
      seen.push(...keys(page));
      url = page.body.link.find((l: any) => l.relation === 'next')?.url;
      if (url) expect(keys(page)).toHaveLength(4);
    }
    expect(sorted(seen)).toEqual(sorted(keys(res)));
  });

  it("164.312(a)(1) (compartment): a patient asking for another patient's $everything is refused like a missing patient, and audited", async () => {
    const before = await lastAuditSeq(t.ward);
    const other = await (c.patientA as FhirClient).get(`${k.B}/$everything`);
    const missing = await (c.patientA as FhirClient).get(`Patient/${randomUUID()}/$everything`);
    expect(other.status).toBe(404);
    expect(other.body).toEqual(missing.body);
    expect(JSON.stringify(other.body)).not.toContain('Bravo');
    const rows = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      action: 'search',
      resourceType: 'Patient',
      resourceId: k.B?.split('/')[1],
      patientId: k.B?.split('/')[1],
      decision: { effect: 'deny' },
      outcome: { status: 404, code: 'WARD_NOT_FOUND' },
      detail: { operation: 'Patient/$everything' },
    });
    expect(rows[0].decision.reasons.join('\n')).toMatch(/compartment\/patient/);
    expect(rows[0].returned).toBeUndefined();
  });

  it.each([
    ['physicianWithout', /relationship\/required/],
    ['nurseWithout', /relationship\/required/],
    ['proxyWithoutConsent', /proxy\/consent/],
  ])(
    '164.312(a)(1) (no existence oracle): %s gets nothing — the same answer as for a missing patient — and is audited',
    async (who, rule) => {
      const { res, entries } = await everything(who);
      const missing = await (c[who] as FhirClient).get(`Patient/${randomUUID()}/$everything`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(missing.body);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ decision: { effect: 'deny' }, outcome: { status: 404 }, patientId: k.A?.split('/')[1] });
      expect(entries[0].decision.reasons.join('\n')).toMatch(rule);
    },
  );

  it('a proxy linked to A asking for B gets 404; a role without Patient access gets 403 whatever the id', async () => {
    expect((await (c.proxy as FhirClient).get(`${k.B}/$everything`)).status).toBe(404);
    const admin = await (c.admin as FhirClient).get(`${k.A}/$everything`);
    const adminMissing = await (c.admin as FhirClient).get(`Patient/${randomUUID()}/$everything`);
    expect(admin.status).toBe(403);
    expect(admin.body).toEqual(adminMissing.body);
  });

  it('start and end keep resources whose care date overlaps the range, and those with no care date', async () => {
    // Care dates: obs 2021-06-01, obsOld 2019-06-01, eth onset 2021-02-01, medReq authored 2020-03-01, enc 2018-05-01.
    // The Patient, the CareTeam (no period), the Consent (no dateTime), the PSY Condition (no onset) and the directory have none.
    const undated = [
      'A',
      'team',
      'obsUndated',
      'psy',
      'note',
      'proxyLink',
      'otherLink',
      'consent',
      'authorisation',
      'doc',
      'org',
      'med',
      'psyDoc',
    ];
    const { res } = await everything('physician', 'start=2020-01-01&end=2021-03');
    expect(res.status).toBe(200);
    // The physician does not see the ETH Condition (onset 2021-02-01) nor the note, in range or not.
    expect(sorted(keys(res))).toEqual(of(...without(undated, 'note'), 'medReq'));
    const from = await everything('patientA', 'start=2021');
    expect(sorted(keys(from.res))).toEqual(of(...without(undated, 'note'), 'eth', 'obs'));
    const until = await everything('physician', 'end=2018');
    expect(sorted(keys(until.res))).toEqual(of(...without(undated, 'note'), 'enc'));
  });
});
