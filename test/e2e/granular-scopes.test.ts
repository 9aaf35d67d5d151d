import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const observation = (patientId: string, category: string) => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: CATEGORY, code: category }] }],
  code: { coding: [{ system: 'http://loinc.org', code: category === 'vital-signs' ? '8867-4' : '2345-7' }] },
  subject: { reference: `Patient/${patientId}` },
});

describe.each(engines())('SMART granular scopes (?category=) on %s', (engine) => {
  let t: TestWard;
  let admin: FhirClient;
  let vitals: FhirClient;
  let patientId: string;
  let vitalId: string;
  let labId: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    admin = fhirClient(t, await t.token(SERVICE));
    patientId = (await admin.post('Patient', { resourceType: 'Patient', active: true })).body.id;
    // The nurse cares for the patient: the scope's category, not a missing relationship, is what these tests are about.
    expect((await admin.post('CareTeam', careTeam(patientId, 'Practitioner/g-2'))).status).toBe(201);
    vitalId = (await admin.post('Observation', observation(patientId, 'vital-signs'))).body.id;
    labId = (await admin.post('Observation', observation(patientId, 'laboratory'))).body.id;
    const scope = `patient/Observation.crs?category=${CATEGORY}|vital-signs`;
    // A clinician app launched for this patient, limited to vital signs.
    vitals = fhirClient(t, await t.token({ role: 'nurse', sub: 'Practitioner/g-2', scope, patient: patientId }));
  });
  afterAll(async () => t.close());

  it('reads an Observation of the granted category, and answers 404 for another category', async () => {
    expect((await vitals.get(`Observation/${vitalId}`)).status).toBe(200);
    const lab = await vitals.get(`Observation/${labId}`);
    expect(lab.status).toBe(404);
    expect(lab.body).toEqual((await vitals.get('Observation/does-not-exist')).body);
  });

  it('leaves the other category out of search and history', async () => {
    const search = await vitals.get(`Observation?_id=${vitalId},${labId}`);
    expect(search.body.entry.map((e: any) => e.resource.id)).toEqual([vitalId]);
    const history = await vitals.get('Observation/_history');
    const ids = history.body.entry.map((e: any) => e.resource?.id);
    expect(ids).toContain(vitalId);
    expect(ids).not.toContain(labId);
  });

  it('creates only within the granted category', async () => {
    expect((await vitals.post('Observation', observation(patientId, 'vital-signs'))).status).toBe(201);
    expect((await vitals.post('Observation', observation(patientId, 'laboratory'))).status).toBe(403);
  });
});
