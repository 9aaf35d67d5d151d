import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const SENTINEL = 'Zwiebelkuchen-Sentinel-5521';
const transaction = (entry: unknown[]) => ({ resourceType: 'Bundle', type: 'transaction', entry });
const put = (resource: any) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
const observation = (id: string, patient: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
  subject: { reference: `Patient/${patient}` },
  valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  ...extra,
});

/**
 * Updates by id in a transaction Bundle are committed together (Vault.updateMany: one read of
 * every current version, one load of policy facts, one commit), which must answer exactly as if
 * each had run on its own: its status, version, index rows and audit entry, policy per entry, and
 * all or nothing.
 */
describe.each(engines())('runs of updates by id in a transaction on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;
  let patient: string;
  let other: string;
  const run = `run-${engine}`;

  const footprint = async () => {
    const { rows } = await t.ward.db.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM ward_resource) AS resources, (SELECT count(*)::int FROM ward_resource_version) AS versions,
              (SELECT count(*)::int FROM ward_search_token) + (SELECT count(*)::int FROM ward_search_blind)
                + (SELECT count(*)::int FROM ward_search_reference) + (SELECT count(*)::int FROM ward_search_date)
                + (SELECT count(*)::int FROM ward_search_number) AS index_rows`,
    );
    return rows[0];
  };

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token(SERVICE));
    patient = (await fhir.post('Patient', { resourceType: 'Patient', gender: 'female' })).body.id;
    other = (await fhir.post('Patient', { resourceType: 'Patient', gender: 'male' })).body.id;
    expect((await fhir.post('CareTeam', careTeam(patient, 'Practitioner/run-doc'))).status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('answers each update as a single update would — 201 new, 200 with the next version for existing — each indexed and audited on its own', async () => {
    const first = await fhir.post('/fhir', transaction([1, 2, 3].map((n) => put(observation(`${run}-${n}`, patient)))));
    expect(first.status).toBe(200);
    expect(first.body.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created', '201 Created']);
    const seq = await lastAuditSeq(t.ward);
    const second = await fhir.post(
      '/fhir',
      transaction([
        put(
          observation(`${run}-2`, patient, {
            valueQuantity: { value: 99, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
          }),
        ),
        put(observation(`${run}-4`, patient)),
        put(observation(`${run}-3`, patient, { status: 'amended' })),
      ]),
    );
    expect(second.status).toBe(200);
    expect(second.body.entry.map((e: any) => [e.response.status, e.response.etag, e.response.location])).toEqual([
      ['200 OK', 'W/"2"', `Observation/${run}-2/_history/2`],
      ['201 Created', 'W/"1"', `Observation/${run}-4/_history/1`],
      ['200 OK', 'W/"2"', `Observation/${run}-3/_history/2`],
    ]);
    expect(second.body.entry[0].resource.valueQuantity.value).toBe(99);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.map((r) => r.parsed.action)).toEqual(['update', 'update', 'update', 'transaction']);
    expect(rows.slice(0, 3).map((r) => [r.resourceId, r.parsed.outcome.status, r.parsed.versionId, r.parsed.patientId])).toEqual([
      [`${run}-2`, 200, 2, patient],
      [`${run}-4`, 201, 1, patient],
      [`${run}-3`, 200, 2, patient],
    ]);
    expect(new Set(rows.map((r) => r.parsed.where.requestId)).size).toBe(1);
    // The index follows the new versions: the old value is gone, the new one found.
    const ids = async (query: string) => ((await fhir.get(`Observation?${query}`)).body.entry ?? []).map((e: any) => e.resource.id).sort();
    expect(await ids(`patient=${patient}&value-quantity=99`)).toEqual([`${run}-2`]);
    expect(await ids(`patient=${patient}&value-quantity=60`)).toEqual([`${run}-1`, `${run}-3`, `${run}-4`]);
    expect(await ids(`patient=${patient}&status=amended`)).toEqual([`${run}-3`]);
    expect(await ids(`patient=${patient}&code:text=heart`)).toEqual([`${run}-1`, `${run}-2`, `${run}-3`, `${run}-4`]);
    const history = (await fhir.get(`Observation/${run}-2/_history`)).body.entry.map((e: any) => e.resource.meta.versionId);
    expect(history).toEqual(['2', '1']);
  });

  it('fails the whole Bundle at an invalid update in the middle of a run, naming that entry, leaving no resources, index rows or audit entries of the others', async () => {
    const before = await footprint();
    const seq = await lastAuditSeq(t.ward);
    const res = await fhir.post(
      '/fhir',
      transaction([
        put(observation(`${run}-10`, patient, { note: [{ text: SENTINEL }] })),
        put(observation(`${run}-11`, patient)),
        put(observation(`${run}-12`, patient, { status: SENTINEL })),
        put(observation(`${run}-13`, patient)),
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.issue.some((i: any) => i.expression?.includes('Bundle.entry[2]'))).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(SENTINEL);
    expect(await footprint()).toEqual(before);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.map((r) => r.parsed.action)).toEqual(['transaction']);
    expect(rows[0]?.parsed.outcome).toEqual({ status: 400, code: 'WARD_INVALID_RESOURCE' });
    expect(rows[0]?.parsed.detail).toEqual({ entry: '2' });
    expect((await fhir.get(`Observation/${run}-10`)).status).toBe(404);
  });

  it('decides policy on every update of a run: a physician may update the observations of the patient on their care team, and one entry for another patient fails the Bundle as a single update would', async () => {
    // People create with POST (update-as-create with a client-chosen id is for services), so the service writes first.
    const seeded = await fhir.post(
      '/fhir',
      transaction([
        put(observation(`${run}-20`, patient)),
        put(observation(`${run}-21`, patient)),
        put(observation(`${run}-22`, patient)),
        put(observation(`${run}-23`, other)),
        put(observation(`${run}-24`, patient)),
      ]),
    );
    expect(seeded.status).toBe(200);
    const doctor = fhirClient(t, await t.token({ role: 'physician', sub: 'Practitioner/run-doc', scope: 'user/*.cruds' }));
    const amended = (id: string, p: string) => put(observation(id, p, { status: 'amended' }));
    const allowed = await doctor.post('/fhir', transaction([amended(`${run}-20`, patient), amended(`${run}-21`, patient)]));
    expect(allowed.status).toBe(200);
    expect(allowed.body.entry.map((e: any) => e.response.etag)).toEqual(['W/"2"', 'W/"2"']);
    const single = await doctor.put(`Observation/${run}-23`, observation(`${run}-23`, other, { status: 'amended' }));
    expect(single.status).toBeGreaterThanOrEqual(400);
    const before = await footprint();
    const seq = await lastAuditSeq(t.ward);
    const refused = await doctor.post(
      '/fhir',
      transaction([amended(`${run}-22`, patient), amended(`${run}-23`, other), amended(`${run}-24`, patient)]),
    );
    expect(refused.status).toBe(single.status);
    expect(refused.body.issue.some((i: any) => i.expression?.includes('Bundle.entry[1]'))).toBe(true);
    expect(JSON.stringify(refused.body)).not.toContain(other);
    expect(await footprint()).toEqual(before);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.map((r) => r.parsed.action)).toEqual(['transaction']);
    expect(rows[0]?.parsed.detail).toEqual({ entry: '1' });
    expect((await fhir.get(`Observation/${run}-22`)).body.meta.versionId).toBe('1');
  });

  it('lets two transactions that update the same resources in opposite orders both commit, one after the other, without a deadlock', async () => {
    const ids = [30, 31, 32, 33, 34].map((n) => `${run}-${n}`);
    expect((await fhir.post('/fhir', transaction(ids.map((id) => put(observation(id, patient)))))).status).toBe(200);
    const [a, b] = await Promise.all([
      fhir.post('/fhir', transaction(ids.map((id) => put(observation(id, patient, { status: 'amended' }))))),
      fhir.post('/fhir', transaction([...ids].reverse().map((id) => put(observation(id, patient, { status: 'corrected' }))))),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    for (const id of ids) expect((await fhir.get(`Observation/${id}`)).body.meta.versionId).toBe('3');
  });
});
