import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { observationOf, patients } from './factories.js';

const matches = (bundle: any): string[] =>
  (bundle.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => e.resource.id);

describe.each(engines())('search under policy on %s', (engine) => {
  let t: TestWard;
  let service: FhirClient;
  let patientA: FhirClient;
  const id: Record<string, string> = {};

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token(SERVICE));
    for (const label of ['P1', 'P2'] as const) id[label] = (await service.post('Patient', patients[label])).body.id;
    for (const label of ['O1', 'O2', 'O3', 'O4'] as const)
      id[label] = (await service.post('Observation', observationOf(label, id))).body.id;
    patientA = fhirClient(t, await t.token({ role: 'patient', sub: `Patient/${id.P1}`, scope: 'patient/*.rs' }));
  }, 120_000);
  afterAll(async () => t?.close());

  it('164.312(a)(1) (no existence oracle): search totals leave out records a patient-scoped caller cannot see', async () => {
    const all = await service.get('Observation?code=8867-4&_total=accurate');
    expect(all.body.total).toBe(2);
    const own = await patientA.get('Observation?code=8867-4&_total=accurate');
    expect(own.status).toBe(200);
    expect(own.body.total).toBe(1);
    expect(matches(own.body)).toEqual([id.O1]);
    const count = await patientA.get('Observation?_summary=count');
    expect(count.body.total).toBe(2);
    expect(count.body.entry ?? []).toEqual([]);
  });

  it("164.312(a)(1) (compartment): Observation?patient=B and B's compartment give a patient-scoped caller no data and a zero total", async () => {
    for (const url of [
      `Observation?patient=${id.P2}&_total=accurate`,
      `Patient/${id.P2}/Observation?_total=accurate`,
      `Patient?name=mueller&_total=accurate`,
    ]) {
      const res = await patientA.get(url);
      expect(res.status, url).toBe(200);
      expect(res.body.total, url).toBe(0);
      expect(res.raw.body).not.toContain(id.O3);
      expect(res.raw.body).not.toContain('Mueller');
    }
  });

  it('164.312(a)(1) (no existence oracle): a patient-scoped caller pages only through what it may see', async () => {
    const first = await patientA.get('Observation?_count=1&_sort=date');
    expect(matches(first.body)).toEqual([id.O1]);
    const next = first.body.link.find((l: any) => l.relation === 'next').url.replace('https://ward.test/fhir/', '');
    const second = await patientA.get(next);
    expect(matches(second.body)).toEqual([id.O2]);
    expect(second.body.link.some((l: any) => l.relation === 'next')).toBe(false);
  });

  it('ASTM E2147-18 §7.1.9 (via 170.210(e)): a search entry records the query with identifying values replaced by parameter names, and the ids returned', async () => {
    const before = await lastAuditSeq(t.ward);
    const res = await service.get('Patient?name=M%C3%BCll&birthdate=1980-03-15&gender=female&identifier=urn:ward-test:mrn|MRN-1001');
    expect(matches(res.body)).toEqual([id.P1]);
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(1);
    const entry = rows[0]?.parsed;
    expect(entry).toMatchObject({ action: 'search', resourceType: 'Patient', returned: [`Patient/${id.P1}`], patientId: id.P1 });
    expect(entry.detail.query).toBe('name=[name]&birthdate=[birthdate]&gender=[gender]&identifier=[identifier]');
    for (const phi of ['Müll', 'Mull', '1980-03-15', 'MRN-1001']) expect(rows[0]?.entry).not.toContain(phi);
    const observations = await auditRowsAfter(
      t.ward,
      await lastAuditSeq(t.ward).then(async (seq) => {
        await service.get(`Observation?code=http://loinc.org|8867-4&patient=${id.P1}`);
        return seq;
      }),
    );
    expect(observations[0]?.parsed.detail.query).toBe(`code=http://loinc.org|8867-4&patient=${id.P1}`);
    expect(observations[0]?.parsed.returned).toEqual([`Observation/${id.O1}`]);
  });
});
