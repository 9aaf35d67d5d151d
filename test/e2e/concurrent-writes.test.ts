import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';

/** Concurrent writers never lose an update, never fork a version, and never duplicate a conditional create. */
describe.each(engines())('concurrent writes on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token(SERVICE));
  });
  afterAll(async () => t.close());

  it('serialises unconditional updates of one resource into consecutive versions, losing none', async () => {
    const created = (await fhir.post('Basic', { resourceType: 'Basic', code: { text: 'v1' } })).body;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => fhir.put(`Basic/${created.id}`, { ...created, code: { text: `writer ${i}` } })),
    );
    expect(results.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);
    const versions = results.map((r) => Number(r.body.meta.versionId)).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
    const history = await fhir.get(`Basic/${created.id}/_history?_count=50`);
    expect(history.body.entry).toHaveLength(13);
  });

  it('lets exactly one of several writers holding the same If-Match win; the rest get 412', async () => {
    const created = (await fhir.post('Basic', { resourceType: 'Basic', code: { text: 'v1' } })).body;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fhir.put(`Basic/${created.id}`, { ...created, code: { text: `w${i}` } }, { 'if-match': 'W/"1"' }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(7);
    expect((await fhir.get(`Basic/${created.id}`)).body.meta.versionId).toBe('2');
  });

  it('creates one resource when concurrent conditional creates share an identifier', async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: 'urn:test:mrn', value: 'CONCURRENT-1' }] };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => fhir.post('Patient', body, { 'if-none-exist': 'identifier=urn:test:mrn|CONCURRENT-1' })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect((await fhir.get('Patient?identifier=urn:test:mrn|CONCURRENT-1')).body.entry).toHaveLength(1);
  });

  it('keeps the audit log in step: one successful entry per stored version', async () => {
    const { rows } = await t.ward.db.query<{ versions: number; entries: number }>(
      `SELECT (SELECT count(*)::int FROM ward_resource_version) AS versions,
              (SELECT count(*)::int FROM ward_audit_entry WHERE action IN ('create', 'update', 'patch', 'delete') AND outcome = 'success'
                 AND entry NOT LIKE '%matched-existing%') AS entries`,
    );
    expect(rows[0]?.entries).toBe(rows[0]?.versions);
  });
});
