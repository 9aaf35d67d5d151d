import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const ROW = '42 CFR Part 2 §2.12–2.13 (labels)';
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const WITHOUT = 'Practitioner/doc-no-part2';
const WITH = 'Practitioner/doc-part2';

const condition = (patientId: string, code: string) => ({
  resourceType: 'Condition',
  subject: { reference: `Patient/${patientId}` },
  code: { coding: [{ system: ICD10CM, code }] },
});

/** A Part 2 consent (42 CFR §2.31) for treatment naming one recipient and the ETH class. */
const part2Consent = (patientId: string, recipient: string) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: `Patient/${patientId}` },
  policyRule: { coding: [{ system: ACT, code: 'OPTIN' }] },
  provision: {
    type: 'permit',
    actor: [
      {
        role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] },
        reference: { reference: recipient },
      },
    ],
    action: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentaction', code: 'access' }] }],
    purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
    securityLabel: [{ system: ACT, code: 'ETH' }],
  },
});

const ids = (bundle: any, mode?: string): string[] =>
  (bundle.entry ?? [])
    .filter((e: any) => mode === undefined || e.search?.mode === mode)
    .map((e: any) => `${e.resource.resourceType}/${e.resource.id}`)
    .sort();

/**
 * ETH-labelled (Part 2) data reached through `_include` and `_revinclude` is decided like a match:
 * absent for a care-team physician without Part 2 rights, present for one whom the patient's
 * consent names. (Read and search: policy-roles and policy-labels-masks; `$export` does not exist yet.)
 */
describe.each(engines())(`${ROW}: _include and _revinclude of ETH-labelled data on %s`, (engine) => {
  let t: TestWard;
  let without: FhirClient;
  let withConsent: FhirClient;
  let A: string;
  let sud: string;
  let plain: string;
  let encounter: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const service = fhirClient(t, await t.token(SERVICE));
    without = fhirClient(t, await t.token({ role: 'physician', sub: WITHOUT, scope: 'user/*.rs' }));
    withConsent = fhirClient(t, await t.token({ role: 'physician', sub: WITH, scope: 'user/*.rs' }));
    A = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Includeperson' }], gender: 'female' })).body.id;
    expect((await service.post('CareTeam', careTeam(A, WITHOUT, WITH))).status).toBe(201);
    const created = await service.post('Condition', condition(A, 'F10.20'));
    expect(created.status).toBe(201);
    sud = created.body.id;
    expect(created.body.meta.security).toContainEqual({ system: ACT, code: 'ETH' });
    plain = (await service.post('Condition', condition(A, 'E11.9'))).body.id;
    encounter = (
      await service.post('Encounter', {
        resourceType: 'Encounter',
        status: 'finished',
        class: { system: ACT, code: 'AMB' },
        subject: { reference: `Patient/${A}` },
        reasonReference: [{ reference: `Condition/${sud}` }, { reference: `Condition/${plain}` }],
      })
    ).body.id;
    expect((await service.post('Consent', part2Consent(A, WITH))).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it(`${ROW}: _revinclude=Condition:subject leaves the ETH-labelled Condition out for a physician without Part 2 rights`, async () => {
    const res = await without.get(`Patient?_id=${A}&_revinclude=Condition:subject&_total=accurate`);
    expect(res.status).toBe(200);
    expect(ids(res.body, 'match')).toEqual([`Patient/${A}`]);
    expect(ids(res.body, 'include')).toEqual([`Condition/${plain}`]);
    expect(res.body.total).toBe(1);
    expect(JSON.stringify(res.body)).not.toContain('F10.20');
  });

  it(`${ROW}: _revinclude=Condition:subject carries the ETH-labelled Condition for a physician the consent names`, async () => {
    const res = await withConsent.get(`Patient?_id=${A}&_revinclude=Condition:subject&_total=accurate`);
    expect(res.status).toBe(200);
    expect(ids(res.body, 'include')).toEqual([`Condition/${plain}`, `Condition/${sud}`].sort());
    expect(res.body.total).toBe(1);
  });

  it(`${ROW}: _include=Encounter:reason-reference to an ETH-labelled Condition is absent without Part 2 rights, present with consent`, async () => {
    const query = `Encounter?_id=${encounter}&_include=Encounter:reason-reference`;
    const denied = await without.get(query);
    expect(denied.status).toBe(200);
    expect(ids(denied.body, 'match')).toEqual([`Encounter/${encounter}`]);
    expect(ids(denied.body, 'include')).toEqual([`Condition/${plain}`]);
    expect(JSON.stringify(denied.body)).not.toContain('F10.20');
    const permitted = await withConsent.get(query);
    expect(ids(permitted.body, 'include')).toEqual([`Condition/${plain}`, `Condition/${sud}`].sort());
  });

  it(`${ROW}: _revinclude=* leaves it out too, and a search of Conditions neither returns nor counts it without Part 2 rights`, async () => {
    const star = await without.get(`Patient?_id=${A}&_revinclude=*`);
    expect(ids(star.body)).not.toContain(`Condition/${sud}`);
    expect(ids(star.body)).toContain(`Condition/${plain}`);
    const search = await without.get(`Condition?subject=Patient/${A}&_total=accurate`);
    expect(ids(search.body)).toEqual([`Condition/${plain}`]);
    expect(search.body.total).toBe(1);
    expect((await withConsent.get(`Condition?subject=Patient/${A}&_total=accurate`)).body.total).toBe(2);
  });
});
