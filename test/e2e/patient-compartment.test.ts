import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ward } from '../../src/app/ward.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Test'] }],
  gender: 'unknown',
  birthDate: '1970-01-01',
});

const observation = (patientId: string, identifier = `obs-${randomUUID()}`) => ({
  resourceType: 'Observation',
  identifier: [{ system: 'urn:ward-test', value: identifier }],
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: `Patient/${patientId}` },
  valueQuantity: { value: 72, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});

/** Runs a request and returns its response with the audit entries it appended. */
async function audited(ward: Ward, request: () => Promise<Call>): Promise<{ res: Call; entries: any[] }> {
  const before = await lastAuditSeq(ward);
  const res = await request();
  const entries = (await auditRowsAfter(ward, before)).map((r) => r.parsed);
  return { res, entries };
}

const ids = (bundle: any): string[] => (bundle.entry ?? []).map((e: any) => `${e.fullUrl.split('/').slice(-2).join('/')}`);

describe.each(engines())('patient compartment on %s', (engine) => {
  let t: TestWard;
  let doctor: FhirClient;
  let A: string;
  let B: string;
  let obsA: string;
  let obsB: string;
  /** Tokens limited to patient A's compartment: A's own, and a clinician's with patient context A. */
  const scoped: Record<'patient principal Patient/A' | 'user with patient context A', { client: FhirClient; sub: string }> = {} as never;

  beforeAll(async () => {
    t = await openTestWard(engine);
    doctor = fhirClient(t, await t.token(SERVICE));
    A = (await doctor.post('Patient', patient('Alpha'))).body.id;
    B = (await doctor.post('Patient', patient('Bravo'))).body.id;
    // The clinician with patient context A treats A: the compartment, not a missing relationship, is what stops it at B.
    expect((await doctor.post('CareTeam', careTeam(A, 'Practitioner/doc-ctx'))).status).toBe(201);
    const createdA = await doctor.post('Observation', observation(A));
    const createdB = await doctor.post('Observation', observation(B));
    expect([createdA.status, createdB.status]).toEqual([201, 201]);
    obsA = createdA.body.id;
    obsB = createdB.body.id;
    scoped['patient principal Patient/A'] = {
      client: fhirClient(t, await t.token({ role: 'patient', sub: `Patient/${A}`, scope: 'patient/*.rs' })),
      sub: `Patient/${A}`,
    };
    scoped['user with patient context A'] = {
      client: fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/doc-ctx', scope: 'patient/*.cruds', patient: A })),
      sub: 'Practitioner/doc-ctx',
    };
  });
  afterAll(async () => t?.close());

  const kinds = ['patient principal Patient/A', 'user with patient context A'] as const;

  describe.each(kinds)('as a %s', (kind) => {
    const who = () => scoped[kind];

    it("164.312(a)(1) (compartment): reads A and A's Observation", async () => {
      const { client } = who();
      const a = await client.get(`Patient/${A}`);
      expect(a.status).toBe(200);
      expect(a.body.name[0].family).toBe('Alpha');
      const o = await client.get(`Observation/${obsA}`);
      expect(o.status).toBe(200);
      expect(o.body.subject.reference).toBe(`Patient/${A}`);
    });

    it("164.312(a)(1) (no existence oracle): reading B's Observation answers 404 exactly like a missing id, and is audited as a deny", async () => {
      const { client, sub } = who();
      const missing = await client.get(`Observation/${randomUUID()}`);
      const { res, entries } = await audited(t.ward, () => client.get(`Observation/${obsB}`));
      expect(res.status).toBe(404);
      expect(res.status).toBe(missing.status);
      expect(res.body).toEqual(missing.body);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.raw.body).not.toContain(obsB);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        who: { id: sub },
        action: 'read',
        resourceType: 'Observation',
        resourceId: obsB,
        decision: { effect: 'deny' },
        outcome: { status: 404 },
      });
      expect(entries[0].decision.reasons.length).toBeGreaterThan(0);
    });

    it('164.312(a)(1) (no existence oracle): reading Patient B answers 404 exactly like a missing id, and is audited as a deny', async () => {
      const { client, sub } = who();
      const missing = await client.get(`Patient/${randomUUID()}`);
      const { res, entries } = await audited(t.ward, () => client.get(`Patient/${B}`));
      expect(res.status).toBe(404);
      expect(res.status).toBe(missing.status);
      expect(res.body).toEqual(missing.body);
      expect(res.raw.body).not.toContain('Bravo');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ who: { id: sub }, resourceId: B, decision: { effect: 'deny' }, outcome: { status: 404 } });
    });

    it("164.312(a)(1) (no existence oracle): vread of B's Observation answers 404 exactly like a missing id", async () => {
      const { client } = who();
      const missing = await client.get(`Observation/${randomUUID()}/_history/1`);
      const { res, entries } = await audited(t.ward, () => client.get(`Observation/${obsB}/_history/1`));
      expect(res.status).toBe(404);
      expect(res.body).toEqual(missing.body);
      expect(entries[0]).toMatchObject({ decision: { effect: 'deny' }, outcome: { status: 404 } });
    });

    it("164.312(a)(1) (compartment): searching Observation?_id=<B's> returns no entry, while A's is found", async () => {
      const { client } = who();
      const own = await client.get(`Observation?_id=${obsA}`);
      expect(own.status).toBe(200);
      expect(ids(own.body)).toEqual([`Observation/${obsA}`]);
      const { res, entries } = await audited(t.ward, () => client.get(`Observation?_id=${obsB}`));
      expect(res.status).toBe(200);
      expect(res.body.type).toBe('searchset');
      expect(res.body.entry ?? []).toEqual([]);
      expect(res.raw.body).not.toContain(B);
      expect(entries).toHaveLength(1);
      expect(entries[0].returned ?? []).not.toContain(`Observation/${obsB}`);
      const both = await client.get(`Observation?_id=${obsA},${obsB}`);
      expect(ids(both.body)).toEqual([`Observation/${obsA}`]);
      const patients = await client.get(`Patient?_id=${A},${B}`);
      expect(ids(patients.body)).toEqual([`Patient/${A}`]);
    });

    it("164.312(a)(1) (compartment): type and system history contain A's resources and none of B's", async () => {
      const { client } = who();
      const obsHistory = await client.get('Observation/_history?_count=100');
      expect(obsHistory.status).toBe(200);
      expect(ids(obsHistory.body)).toContain(`Observation/${obsA}`);
      expect(ids(obsHistory.body)).not.toContain(`Observation/${obsB}`);
      expect(obsHistory.raw.body).not.toContain(B);
      const patientHistory = await client.get('Patient/_history?_count=100');
      expect(ids(patientHistory.body)).toContain(`Patient/${A}`);
      expect(ids(patientHistory.body)).not.toContain(`Patient/${B}`);
      const system = await client.get('_history?_count=100');
      expect(system.status).toBe(200);
      expect(system.raw.body).not.toContain(B);
      expect(system.raw.body).not.toContain(obsB);
      expect(system.raw.body).not.toContain('Bravo');
    });

    it("164.312(a)(1) (compartment): instance history of B's Observation is as empty as a missing id's", async () => {
      const { client } = who();
      const missing = await client.get(`Observation/${randomUUID()}/_history`);
      const res = await client.get(`Observation/${obsB}/_history`);
      expect(res.status).toBe(missing.status);
      expect(res.body.entry ?? []).toEqual(missing.body.entry ?? []);
      expect(res.raw.body).not.toContain('8867-4');
    });

    it('164.312(a)(1) (compartment): creating an Observation for B is refused with 403, audited as a deny, and nothing is stored', async () => {
      const { client, sub } = who();
      const marker = `forbidden-${randomUUID()}`;
      const { res, entries } = await audited(t.ward, () => client.post('Observation', observation(B, marker)));
      expect(res.status).toBe(403);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(res.body.issue[0].code).toBe('forbidden');
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        who: { id: sub },
        action: 'create',
        resourceType: 'Observation',
        decision: { effect: 'deny' },
        outcome: { status: 403 },
      });
      const found = await doctor.get(`Observation?identifier=urn:ward-test|${marker}`);
      expect(found.status).toBe(200);
      expect(found.body.entry ?? []).toEqual([]);
    });
  });

  it('164.312(a)(1) (compartment): a clinician with patient context A and patient/*.cruds can create for A (control), and the write is stored', async () => {
    const marker = `allowed-${randomUUID()}`;
    const res = await scoped['user with patient context A'].client.post('Observation', observation(A, marker));
    expect(res.status).toBe(201);
    const found = await doctor.get(`Observation?identifier=urn:ward-test|${marker}`);
    expect(ids(found.body)).toEqual([`Observation/${res.body.id}`]);
  });

  it("164.312(a)(1) (no existence oracle): patching or deleting B's Observation with patient context A answers 404 like a missing id and changes nothing", async () => {
    const { client } = scoped['user with patient context A'];
    const ops = [{ op: 'replace', path: '/status', value: 'entered-in-error' }];
    const missingPatch = await client.patch(`Observation/${randomUUID()}`, ops);
    const patch = await audited(t.ward, () => client.patch(`Observation/${obsB}`, ops));
    expect(patch.res.status).toBe(404);
    expect(patch.res.body).toEqual(missingPatch.body);
    expect(patch.entries[0]).toMatchObject({ decision: { effect: 'deny' }, outcome: { status: 404 } });
    const missingDelete = await client.delete(`Observation/${randomUUID()}`);
    const del = await audited(t.ward, () => client.delete(`Observation/${obsB}`));
    expect(del.res.status).toBe(404);
    expect(del.res.status).toBe(missingDelete.status);
    expect(del.res.body).toEqual(missingDelete.body);
    expect(del.entries[0]).toMatchObject({ decision: { effect: 'deny' }, outcome: { status: 404 } });
    const still = await doctor.get(`Observation/${obsB}`);
    expect(still.status).toBe(200);
    expect(still.body.status).toBe('final');
    expect(still.body.meta.versionId).toBe('1');
  });

  it('164.312(a)(1) · 170.315(d)(1)(ii): a billing user reading an Observation gets 403, and the denial is audited', async () => {
    const billing = fhirClient(t, await t.token({ role: 'billing', sub: 'Practitioner/billing-1', scope: 'user/*.rs' }));
    const { res, entries } = await audited(t.ward, () => billing.get(`Observation/${obsA}`));
    expect(res.status).toBe(403);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].code).toBe('forbidden');
    expect(res.raw.body).not.toContain('8867-4');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      who: { id: 'Practitioner/billing-1', roles: ['billing'] },
      action: 'read',
      resourceType: 'Observation',
      decision: { effect: 'deny' },
      outcome: { status: 403, code: 'WARD_POLICY_DENIED' },
    });
    expect(entries[0].decision.reasons.join(' ')).toMatch(/role/);
    // A type-level refusal says nothing about whether the id exists.
    const missing = await billing.get(`Observation/${randomUUID()}`);
    expect(missing.status).toBe(403);
    expect(missing.body).toEqual(res.body);
    const search = await audited(t.ward, () => billing.get('Observation'));
    expect(search.res.status).toBe(403);
    expect(search.entries[0]).toMatchObject({ decision: { effect: 'deny' }, outcome: { status: 403 } });
    // Control: billing may read what its role allows.
    expect((await billing.get(`Patient/${A}`)).status).toBe(200);
  });
});

describe.each(engines())('a deleted resource stays in its compartment on %s', (engine) => {
  let t: TestWard;
  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t.close());

  it("164.312(a)(1) (compartment): a token for patient A cannot write over patient B's deleted resource", async () => {
    const admin = fhirClient(t, await t.token(SERVICE));
    const a = (await admin.post('Patient', { resourceType: 'Patient', active: true })).body.id;
    const b = (await admin.post('Patient', { resourceType: 'Patient', active: true })).body.id;
    expect((await admin.post('CareTeam', careTeam(a, 'Practitioner/tomb-a'))).status).toBe(201);
    const obs = (
      await admin.post('Observation', {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'b' },
        subject: { reference: `Patient/${b}` },
      })
    ).body;
    expect((await admin.delete(`Observation/${obs.id}`)).status).toBe(200);
    const forA = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/tomb-a', scope: 'patient/*.cruds', patient: a }));
    const takeover = await forA.put(`Observation/${obs.id}`, {
      resourceType: 'Observation',
      id: obs.id,
      status: 'final',
      code: { text: 'a' },
      subject: { reference: `Patient/${a}` },
    });
    // Refused like a missing id (no existence oracle): the same status and body as a PUT to an id that was never used.
    expect(takeover.status).toBe(404);
    const missing = await forA.put(`Observation/never-${obs.id}`, {
      resourceType: 'Observation',
      id: `never-${obs.id}`,
      status: 'final',
      code: { text: 'a' },
      subject: { reference: `Patient/${a}` },
    });
    expect(takeover.body).toEqual(missing.body);
    const history = await admin.get(`Observation/${obs.id}/_history`);
    expect(history.body.entry).toHaveLength(2);
  });
});
