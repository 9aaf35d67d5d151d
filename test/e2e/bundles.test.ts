import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { syntheaBundles } from '../support/synthea.js';

const SENTINEL = 'Qwertzu-Sentinel-9312';
const urn = (n: number) => `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const transaction = (entry: unknown[]) => ({ resourceType: 'Bundle', type: 'transaction', entry });
const post = (fullUrl: string, resource: any, extra: Record<string, string> = {}) => ({
  fullUrl,
  resource,
  request: { method: 'POST', url: resource.resourceType, ...extra },
});
const observation = (subject: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: subject },
  ...extra,
});

/** Transaction and batch Bundles (R4 §3.1.0.11): atomicity, reference resolution, order, and per-entry audit. */
describe.each(engines())('Bundles on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;

  const footprint = async () => {
    const { rows } = await t.ward.db.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM ward_resource) AS resources, (SELECT count(*)::int FROM ward_resource_version) AS versions,
              (SELECT count(*)::int FROM ward_search_token) + (SELECT count(*)::int FROM ward_search_blind)
                + (SELECT count(*)::int FROM ward_search_reference) + (SELECT count(*)::int FROM ward_search_date) AS index_rows`,
    );
    return rows[0];
  };

  beforeAll(async () => {
    t = await openTestWard(engine, { WARD_BODY_LIMIT_BYTES: String(4 * 1024 * 1024) });
    fhir = fhirClient(t, await t.token(SERVICE));
  });
  afterAll(async () => t?.close());

  it('commits a transaction, resolving urn:uuid references everywhere in the resources (nested and contained)', async () => {
    const res = await fhir.post(
      '/fhir',
      transaction([
        post(urn(2), observation(urn(1), { performer: [{ reference: urn(1) }], contained: [observation(urn(1), { id: 'inner' })] })),
        post(urn(1), { resourceType: 'Patient', name: [{ family: 'Urnington' }] }),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    const [obsEntry, patientEntry] = res.body.entry;
    expect(obsEntry.response.status).toBe('201 Created');
    expect(patientEntry.response.location).toMatch(/^Patient\/[^/]+\/_history\/1$/);
    expect(patientEntry.response.etag).toBe('W/"1"');
    expect(patientEntry.response.lastModified).toMatch(/Z$/);
    const patientRef = `Patient/${patientEntry.resource.id}`;
    const obs = (await fhir.get(obsEntry.response.location.split('/_history')[0])).body;
    expect(obs.subject.reference).toBe(patientRef);
    expect(obs.performer[0].reference).toBe(patientRef);
    expect(obs.contained[0].subject.reference).toBe(patientRef);
    const search = await fhir.get(`Observation?subject=${patientRef}`);
    expect(search.body.entry).toHaveLength(1);
  });

  it('leaves no trace of earlier entries when the last one fails — no resources, index rows or their audit entries — and audits the attempt once', async () => {
    const before = await footprint();
    const seq = await lastAuditSeq(t.ward);
    const res = await fhir.post(
      '/fhir',
      transaction([
        post(urn(11), { resourceType: 'Patient', name: [{ family: SENTINEL }], identifier: [{ system: 'urn:t', value: SENTINEL }] }),
        post(urn(12), observation(urn(11))),
        post(urn(13), { resourceType: 'Patient', gender: SENTINEL }),
      ]),
    );
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.some((i: any) => i.expression?.includes('Bundle.entry[2]'))).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(SENTINEL);
    expect(await footprint()).toEqual(before);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.map((r) => r.parsed.action)).toEqual(['transaction']);
    expect(rows[0]?.parsed.outcome).toEqual({ status: 400, code: 'WARD_INVALID_RESOURCE' });
    expect(rows[0]?.parsed.detail).toEqual({ entry: '2' });
    expect(rows[0]?.entry).not.toContain(SENTINEL);
    expect((await fhir.get(`Patient?identifier=urn:t|${SENTINEL}`)).body.entry ?? []).toEqual([]);
  });

  it('audits each committed entry on its own and closes with one transaction entry', async () => {
    const seq = await lastAuditSeq(t.ward);
    const res = await fhir.post('/fhir', transaction([post(urn(21), { resourceType: 'Patient' }), post(urn(22), observation(urn(21)))]));
    expect(res.status).toBe(200);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.map((r) => r.parsed.action).sort()).toEqual(['create', 'create', 'transaction']);
    expect(new Set(rows.map((r) => r.parsed.where.requestId)).size).toBe(1);
  });

  it('resolves a conditional reference through search, and refuses with 412 when none or several match', async () => {
    const patient = (await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'CR-1' }] })).body;
    const ok = await fhir.post('/fhir', transaction([post(urn(31), observation('Patient?identifier=urn:mrn|CR-1'))]));
    expect(ok.status).toBe(200);
    const obs = (await fhir.get(ok.body.entry[0].response.location.split('/_history')[0])).body;
    expect(obs.subject.reference).toBe(`Patient/${patient.id}`);

    const before = await footprint();
    const none = await fhir.post('/fhir', transaction([post(urn(32), observation('Patient?identifier=urn:mrn|CR-NONE'))]));
    expect(none.status).toBe(412);
    await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'CR-1' }] });
    const before2 = await footprint();
    const several = await fhir.post('/fhir', transaction([post(urn(33), observation('Patient?identifier=urn:mrn|CR-1'))]));
    expect(several.status).toBe(412);
    expect(several.body.issue[0].code).toBe('multiple-matches');
    expect((await footprint())?.resources).toBe(before2?.resources);
    expect(before2?.resources).toBe((before?.resources ?? 0) + 1);
  });

  it('honours ifNoneExist inside a transaction: the match stands in for the entry and references follow it', async () => {
    const existing = (await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'INE-1' }] })).body;
    const res = await fhir.post(
      '/fhir',
      transaction([
        post(urn(42), observation(urn(41))),
        post(
          urn(41),
          { resourceType: 'Patient', identifier: [{ system: 'urn:mrn', value: 'INE-1' }] },
          { ifNoneExist: 'identifier=urn:mrn|INE-1' },
        ),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body.entry[1].response.status).toBe('200 OK');
    expect(res.body.entry[1].resource.id).toBe(existing.id);
    const obs = (await fhir.get(res.body.entry[0].response.location.split('/_history')[0])).body;
    expect(obs.subject.reference).toBe(`Patient/${existing.id}`);
  });

  it('processes DELETE, POST, PUT, GET in that order whatever the order sent, with ifMatch and ifNoneMatch', async () => {
    const doomed = (await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:ord', value: 'DEL' }] })).body;
    const kept = (await fhir.post('Patient', { resourceType: 'Patient', active: false })).body;
    const res = await fhir.post(
      '/fhir',
      transaction([
        { request: { method: 'GET', url: 'Patient?identifier=urn:ord|NEW' } },
        { request: { method: 'GET', url: `Patient/${kept.id}`, ifNoneMatch: 'W/"2"' } },
        { resource: { ...kept, active: true }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"1"' } },
        post(urn(51), { resourceType: 'Patient', identifier: [{ system: 'urn:ord', value: 'NEW' }] }),
        { request: { method: 'DELETE', url: 'Patient?identifier=urn:ord|DEL' } },
      ]),
    );
    expect(res.status).toBe(200);
    const statuses = res.body.entry.map((e: any) => e.response.status);
    expect(statuses).toEqual(['200 OK', '304 Not Modified', '200 OK', '201 Created', '200 OK']);
    expect(res.body.entry[0].resource.entry).toHaveLength(1);
    expect((await fhir.get(`Patient/${doomed.id}`)).status).toBe(410);
    const stale = await fhir.post(
      '/fhir',
      transaction([{ resource: { ...kept, active: false }, request: { method: 'PUT', url: `Patient/${kept.id}`, ifMatch: 'W/"1"' } }]),
    );
    expect(stale.status).toBe(412);
  });

  it('posts a Synthea fixture Bundle as a transaction and reads it back with its references resolved', async () => {
    const fixture = syntheaBundles()[5];
    if (!fixture) throw new Error('fixtures missing');
    const bundle = transaction(fixture.entries.map((e: any) => ({ fullUrl: e.fullUrl, resource: e.resource, request: e.request })));
    const res = await fhir.post('/fhir', bundle);
    expect(res.status).toBe(200);
    expect(res.body.entry).toHaveLength(fixture.entries.length);
    expect(res.body.entry.every((e: any) => e.response.status === '201 Created')).toBe(true);
    const patientAt = fixture.entries.findIndex((e) => e.resource.resourceType === 'Patient');
    const patientId = res.body.entry[patientAt].resource.id;
    const sent = fixture.entries[patientAt]?.resource;
    const read = (await fhir.get(`Patient/${patientId}`)).body;
    expect(read.name).toEqual(sent.name);
    const observations = await fhir.get(`Observation?subject=Patient/${patientId}&_summary=count`);
    expect(observations.body.total).toBe(fixture.entries.filter((e) => e.resource.resourceType === 'Observation').length);
    const unresolved = JSON.stringify(res.body.entry.map((e: any) => e.resource)).match(/urn:uuid:/g);
    expect(unresolved).toBeNull();
  }, 120_000);

  it('runs batch entries independently: one failing entry leaves the others, each with its own status', async () => {
    const seq = await lastAuditSeq(t.ward);
    const res = await fhir.post('/fhir', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', name: [{ family: 'Batchley' }] }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', gender: SENTINEL }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'FROB', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/does-not-exist' } },
        { resource: observation(urn(61)), request: { method: 'POST', url: 'Observation' } },
        { resource: { resourceType: 'Patient', name: [{ family: 'Batchley' }] }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('batch-response');
    expect(res.body.entry.map((e: any) => e.response.status)).toEqual([
      '201 Created',
      '400 Bad Request',
      '400 Bad Request',
      '404 Not Found',
      '400 Bad Request',
      '201 Created',
    ]);
    expect(res.body.entry[1].response.outcome.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(res.body)).not.toContain(SENTINEL);
    const rows = await auditRowsAfter(t.ward, seq);
    expect(rows.filter((r) => r.parsed.action === 'create' && r.parsed.outcome.status === 201)).toHaveLength(2);
    expect(rows.filter((r) => r.parsed.action === 'batch')).toHaveLength(1);
  });

  it('164.312(a)(1) (no existence oracle): a patient gets nothing of another patient inside a batch or a transaction — each entry answers like a missing one, and is audited', async () => {
    const a = (await fhir.post('Patient', { resourceType: 'Patient', gender: 'female' })).body.id;
    const b = (await fhir.post('Patient', { resourceType: 'Patient', gender: 'male' })).body.id;
    const obsB = (await fhir.post('Observation', observation(`Patient/${b}`))).body.id;
    const patientA = fhirClient(t, await t.token({ role: 'patient', sub: `Patient/${a}`, scope: 'patient/*.rs', patient: a }));
    const seq = await lastAuditSeq(t.ward);
    const res = await patientA.post('/fhir', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Observation/${obsB}` } },
        { request: { method: 'GET', url: 'Observation/no-such-observation' } },
        { request: { method: 'GET', url: `Observation?patient=${b}&_total=accurate` } },
      ],
    });
    expect(res.status).toBe(200);
    const [byId, missing, search] = res.body.entry;
    expect(byId.response).toEqual(missing.response);
    expect(search.resource.total).toBe(0);
    expect(JSON.stringify(res.body)).not.toContain(obsB);
    const rows = (await auditRowsAfter(t.ward, seq)).map((r) => r.parsed);
    expect(rows.filter((r) => r.action === 'read' && r.outcome.status === 404)).toHaveLength(2);
    // Inside a transaction the refused read fails the whole Bundle, which says no more than a missing id would.
    const tx = await patientA.post('/fhir', transaction([{ request: { method: 'GET', url: `Observation/${obsB}` } }]));
    const txMissing = await patientA.post('/fhir', transaction([{ request: { method: 'GET', url: 'Observation/no-such-observation' } }]));
    expect(tx.status).toBe(txMissing.status);
    expect(tx.body).toEqual(txMissing.body);
    expect(JSON.stringify(tx.body)).not.toContain(obsB);
  });

  const bad: { name: string; status: number; code: string; body: unknown }[] = [
    {
      name: 'a body that is not a Bundle',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: { resourceType: 'Patient', name: [{ family: SENTINEL }] },
    },
    {
      name: 'an unsupported Bundle type',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: { resourceType: 'Bundle', type: 'document', entry: [] },
    },
    {
      name: 'an entry with a bad method',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: transaction([{ resource: { resourceType: 'Patient' }, request: { method: SENTINEL, url: 'Patient' } }]),
    },
    {
      name: 'an entry with a bad url',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: transaction([{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: `${SENTINEL}/x/y` } }]),
    },
    {
      name: 'a reference to a urn:uuid no entry has',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: transaction([post(urn(71), observation(urn(79)))]),
    },
    {
      name: 'conditional creates that refer to each other in a circle',
      status: 400,
      code: 'WARD_INVALID_BUNDLE',
      body: transaction([
        post(
          urn(81),
          { resourceType: 'Patient', link: [{ type: 'seealso', other: { reference: urn(82) } }] },
          { ifNoneExist: `identifier=urn:c|${SENTINEL}` },
        ),
        post(
          urn(82),
          { resourceType: 'Patient', link: [{ type: 'seealso', other: { reference: urn(81) } }] },
          { ifNoneExist: 'identifier=urn:c|B' },
        ),
      ]),
    },
    {
      name: 'an oversize Bundle',
      status: 413,
      code: 'WARD_BODY_TOO_LARGE',
      body: transaction([
        post(urn(91), { resourceType: 'Patient', text: { status: 'generated', div: `<div>${SENTINEL.repeat(300_000)}</div>` } }),
      ]),
    },
  ];

  it.each(bad)('$name → $status with an OperationOutcome, echoing nothing and storing nothing', async ({ status, code, body }) => {
    const before = await footprint();
    const res = await fhir.post('/fhir', body);
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].details.coding[0].code).toBe(code);
    expect(res.raw.body).not.toContain(SENTINEL);
    expect(await footprint()).toEqual(before);
  });
});
