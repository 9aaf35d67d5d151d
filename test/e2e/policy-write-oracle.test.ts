import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ward } from '../../src/app/ward.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const observation = (patientId: string, id?: string) => ({
  resourceType: 'Observation',
  ...(id ? { id } : {}),
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patientId}` },
  valueQuantity: { value: 61, unit: 'beats/minute', system: 'http://unitsofmeasure.org', code: '/min' },
});

async function audited(ward: Ward, request: () => Promise<Call>): Promise<{ res: Call; entries: any[] }> {
  const before = await lastAuditSeq(ward);
  const res = await request();
  return { res, entries: (await auditRowsAfter(ward, before)).map((r) => r.parsed) };
}

/** Both answers, side by side: same status, same body, and nothing of the hidden resource in either. */
function indistinguishable(hidden: Call, missing: Call, hiddenId: string): void {
  expect(hidden.status).toBe(missing.status);
  expect(hidden.body).toEqual(missing.body);
  expect(hidden.headers.etag).toBe(missing.headers.etag);
  expect(hidden.raw.body).not.toContain(hiddenId);
  expect(hidden.raw.body).not.toContain('61');
}

describe.each(engines())(
  'writes leak no existence: an unauthorised write to an existing id answers like one to a missing id, on %s',
  (engine) => {
    let t: TestWard;
    let service: FhirClient;
    let doctor: FhirClient;
    let A: string;
    let B: string;
    let OA: string;
    let OB: string;

    beforeAll(async () => {
      t = await openTestWard(engine);
      service = fhirClient(t, await t.token(SERVICE));
      A = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Writer' }] })).body.id;
      B = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Hidden' }] })).body.id;
      expect((await service.post('CareTeam', careTeam(A, 'Practitioner/w-doc'))).status).toBe(201);
      OA = (await service.post('Observation', observation(A))).body.id;
      OB = (await service.post('Observation', observation(B))).body.id;
      doctor = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/w-doc', scope: 'user/*.cruds', ttl: '1h' }));
    }, 120_000);
    afterAll(async () => t?.close());

    /** B's Observation, untouched: still version 1, still B's. */
    async function untouched(): Promise<void> {
      const stored = await service.get(`Observation/${OB}`);
      expect(stored.status).toBe(200);
      expect(stored.body.meta.versionId).toBe('1');
      expect(stored.body.subject.reference).toBe(`Patient/${B}`);
    }

    it('164.312(a)(1) (no existence oracle): PUT over another patient’s Observation, re-pointed at one’s own patient, answers exactly like a PUT to a missing id — refused, audited, nothing written', async () => {
      const missingId = randomUUID();
      const hidden = await audited(t.ward, () => doctor.put(`Observation/${OB}`, observation(A, OB)));
      const missing = await audited(t.ward, () => doctor.put(`Observation/${missingId}`, observation(A, missingId)));
      expect(hidden.res.status).toBe(404);
      indistinguishable(hidden.res, missing.res, OB);
      for (const { entries } of [hidden, missing]) {
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ action: 'update', decision: { effect: 'deny' }, outcome: { status: 404 } });
      }
      expect(hidden.entries[0].decision.reasons.join('\n')).toMatch(/relationship\/required/);
      expect(missing.entries[0].decision.reasons.join('\n')).toMatch(/update-as-create/);
      await untouched();
      expect((await service.get(`Observation/${missingId}`)).status).toBe(404);
    });

    it('164.312(a)(1) (no existence oracle): an If-Match naming the hidden version does not tell it apart (no 412 for one and 404 for the other)', async () => {
      for (const version of ['W/"1"', 'W/"2"']) {
        const hidden = await doctor.put(`Observation/${OB}`, observation(A, OB), { 'if-match': version });
        const id = randomUUID();
        const missing = await doctor.put(`Observation/${id}`, observation(A, id), { 'if-match': version });
        expect(hidden.status, version).toBe(404);
        indistinguishable(hidden, missing, OB);
      }
      await untouched();
    });

    it('164.312(a)(1) (no existence oracle): PATCH and DELETE of the hidden Observation answer like a missing id, and change nothing', async () => {
      const ops = [{ op: 'replace', path: '/status', value: 'entered-in-error' }];
      indistinguishable(await doctor.patch(`Observation/${OB}`, ops), await doctor.patch(`Observation/${randomUUID()}`, ops), OB);
      indistinguishable(
        await doctor.patch(`Observation/${OB}`, ops, { 'if-match': 'W/"1"' }),
        await doctor.patch(`Observation/${randomUUID()}`, ops, { 'if-match': 'W/"1"' }),
        OB,
      );
      const deleted = await audited(t.ward, () => doctor.delete(`Observation/${OB}`));
      expect(deleted.res.status).toBe(404);
      indistinguishable(deleted.res, await doctor.delete(`Observation/${randomUUID()}`), OB);
      expect(deleted.entries[0]).toMatchObject({ action: 'delete', decision: { effect: 'deny' }, outcome: { status: 404 } });
      await untouched();
    });

    it('164.312(a)(1) (no existence oracle): a conditional update naming the hidden id in its body, and a transaction PUT, answer like a missing id', async () => {
      const none = 'Observation?code=http://loinc.org|no-such-code';
      const missingId = randomUUID();
      indistinguishable(await doctor.put(none, observation(A, OB)), await doctor.put(none, observation(A, missingId)), OB);
      const bundle = (id: string) => ({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ resource: observation(A, id), request: { method: 'PUT', url: `Observation/${id}` } }],
      });
      const hidden = await doctor.post('/fhir', bundle(OB));
      const missing = await doctor.post('/fhir', bundle(missingId));
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual(JSON.parse(JSON.stringify(missing.body).replaceAll(missingId, OB)));
      await untouched();
    });

    it('what the caller may see is still updated as before, and a service still creates with its own id (imports)', async () => {
      const current = (await doctor.get(`Observation/${OA}`)).body;
      expect((await doctor.put(`Observation/${OA}`, { ...current, status: 'amended' })).status).toBe(200);
      const id = `import-${randomUUID()}`;
      expect((await service.put(`Observation/${id}`, observation(A, id))).status).toBe(201);
      // The clinician creates with POST and a server id.
      expect((await doctor.post('Observation', observation(A))).status).toBe(201);
    });
  },
);
