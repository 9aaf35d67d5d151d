import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const CONF = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const ACT = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const OBS_VALUE = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';

const condition = (patientId: string, system: string, code: string) => ({
  resourceType: 'Condition',
  subject: { reference: `Patient/${patientId}` },
  code: { coding: [{ system, code }] },
});

const encounter = (patientId: string) => ({
  resourceType: 'Encounter',
  status: 'finished',
  class: { system: ACT, code: 'AMB' },
  subject: { reference: `Patient/${patientId}` },
  period: { start: '2026-11-01T09:00:00Z', end: '2026-11-01T10:00:00Z' },
  reasonCode: [{ text: 'Follow-up of alcohol use disorder' }],
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Counselling visit</div>' },
});

describe.each(engines())('sensitivity labels at write time and masks on read on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  let doctor: FhirClient;
  let billing: FhirClient;
  let P: string;
  let enc: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token(SERVICE));
    doctor = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/doc-labels', scope: 'user/*.cruds' }));
    billing = fhirClient(t, await t.token({ role: 'billing', sub: 'Practitioner/billing-mask', scope: 'user/*.rs' }));
    P = (
      await service.post('Patient', {
        resourceType: 'Patient',
        name: [{ family: 'Masked', given: ['Test'] }],
        birthDate: '1970-01-01',
        maritalStatus: { text: 'M' },
        contact: [{ name: { family: 'Kin' } }],
      })
    ).body.id;
    expect((await service.post('CareTeam', careTeam(P, 'Practitioner/doc-labels'))).status).toBe(201);
    const created = await doctor.post('Encounter', encounter(P));
    expect(created.status).toBe(201);
    enc = created.body.id;
  });
  afterAll(async () => t?.close());

  it('42 CFR Part 2 §2.12–2.13 (labels): a Condition coded ICD-10-CM F10.20 is stored labelled R, ETH and SUD', async () => {
    const created = await service.post('Condition', condition(P, 'http://hl7.org/fhir/sid/icd-10-cm', 'F10.20'));
    expect(created.status).toBe(201);
    const read = await service.get(`Condition/${created.body.id}`);
    expect(read.body.meta.security).toEqual([
      { system: CONF, code: 'R' },
      { system: ACT, code: 'ETH' },
      { system: ACT, code: 'SUD' },
    ]);
  });

  it('keeps an explicit label and leaves an unremarkable resource unlabelled', async () => {
    const labelled = await doctor.post('Condition', {
      ...condition(P, 'http://hl7.org/fhir/sid/icd-10-cm', 'E11.9'),
      meta: { security: [{ system: ACT, code: 'PSY' }] },
    });
    expect((await doctor.get(`Condition/${labelled.body.id}`)).body.meta.security).toEqual([
      { system: CONF, code: 'R' },
      { system: ACT, code: 'PSY' },
    ]);
    const plain = await doctor.post('Condition', condition(P, 'http://hl7.org/fhir/sid/icd-10-cm', 'E11.9'));
    expect((await doctor.get(`Condition/${plain.body.id}`)).body.meta.security).toBeUndefined();
  });

  it('164.502(b) · 164.514(d): a billing read of an Encounter has its reasons and narrative masked and is tagged REDACTED', async () => {
    const res = await billing.get(`Encounter/${enc}`);
    expect(res.status).toBe(200);
    expect(res.body.reasonCode).toBeUndefined();
    expect(res.body.text).toBeUndefined();
    expect(res.raw.body).not.toContain('alcohol');
    expect(res.body).toMatchObject({ status: 'finished', class: { code: 'AMB' }, subject: { reference: `Patient/${P}` } });
    expect(res.body.meta.security).toContainEqual(expect.objectContaining({ system: OBS_VALUE, code: 'REDACTED' }));
    // The physician still sees the whole record.
    expect((await doctor.get(`Encounter/${enc}`)).body.reasonCode).toHaveLength(1);
  });

  it('164.502(b) · 164.514(d): a billing read of a Patient drops marital status and contacts, in reads and in searches', async () => {
    const read = await billing.get(`Patient/${P}`);
    expect(read.status).toBe(200);
    expect(read.body.maritalStatus).toBeUndefined();
    expect(read.body.contact).toBeUndefined();
    expect(read.body.name[0].family).toBe('Masked');
    const search = await billing.get(`Encounter?subject=Patient/${P}`);
    expect(search.status).toBe(200);
    const found = search.body.entry.map((e: { resource: Record<string, unknown> }) => e.resource);
    expect(found).toHaveLength(1);
    expect(found[0].reasonCode).toBeUndefined();
    expect(JSON.stringify(search.body)).not.toContain('alcohol');
  });

  it('164.502(b) · 164.514(d): billing may not search or sort by an element its mask hides (no oracle on reasons or languages), audited; searches on kept elements still answer', async () => {
    for (const query of ['Encounter?reason-code:text=alcohol', 'Patient?language=en', 'Encounter?subject=Patient/x&_sort=reason-code']) {
      const before = await lastAuditSeq(t.ward);
      const res = await billing.get(query);
      if (query.includes('_sort=reason-code')) {
        // Sorting is by date parameters only; anything else is refused as a bad request before policy.
        expect(res.status).toBe(400);
        continue;
      }
      expect(res.status, query).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain('alcohol');
      const [entry] = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
      expect(entry).toMatchObject({ action: 'search', outcome: { status: 403 }, decision: { effect: 'deny' } });
      expect(entry.decision.reasons.join(' ')).toMatch(/^mask\/billing\/(Encounter|Patient): searching by /);
    }
    expect((await billing.get(`Encounter?subject=Patient/${P}&date=ge2026-01-01&_sort=-date`)).status).toBe(200);
    expect((await billing.get(`Patient?_id=${P}&gender=female,male,other,unknown`)).status).toBe(200);
    // A role that sees the whole Encounter searches the same way.
    expect((await doctor.get('Encounter?reason-code:text=alcohol')).status).toBe(200);
  });

  it('164.502(b) · 164.514(d): billing may not write back an Encounter it sees masked', async () => {
    const writer = fhirClient(t, await t.token({ role: 'billing', sub: 'Practitioner/billing-w', scope: 'user/*.cruds' }));
    const masked = (await writer.get(`Encounter/${enc}`)).body;
    const res = await writer.put(`Encounter/${enc}`, masked);
    expect(res.status).toBe(403);
    expect((await doctor.get(`Encounter/${enc}`)).body.reasonCode).toHaveLength(1);
  });
});
