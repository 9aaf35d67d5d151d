import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';

const patient = (family = 'Testperson') => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Alex'] }],
  gender: 'female',
  birthDate: '1980-05-06',
  identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN-${family}` }],
});

describe.each(engines())('FHIR REST interactions on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token(SERVICE));
  });
  afterAll(async () => t.close());

  it('170.315(d)(7): creates a resource with a server id, version 1, Location, ETag, Last-Modified and no-store caching', async () => {
    const res = await fhir.post('Patient', patient());
    expect(res.status).toBe(201);
    expect(res.body.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.location).toBe(`https://ward.test/fhir/Patient/${res.body.id}/_history/1`);
    expect(res.headers.etag).toBe('W/"1"');
    expect(new Date(String(res.headers['last-modified'])).getTime()).not.toBeNaN();
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('reads back what it stored, and vread returns each version', async () => {
    const created = (await fhir.post('Patient', patient('Readback'))).body;
    const read = await fhir.get(`Patient/${created.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created);
    const updated = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'male' });
    expect(updated.status).toBe(200);
    expect(updated.body.meta.versionId).toBe('2');
    expect((await fhir.get(`Patient/${created.id}/_history/1`)).body.gender).toBe('female');
    expect((await fhir.get(`Patient/${created.id}/_history/2`)).body.gender).toBe('male');
    expect((await fhir.get(`Patient/${created.id}/_history/3`)).status).toBe(404);
  });

  it('update-as-create keeps the client-chosen id', async () => {
    const res = await fhir.put('Patient/client-chosen-1', { ...patient('Chosen'), id: 'client-chosen-1' });
    expect(res.status).toBe(201);
    expect(res.body.id).toBe('client-chosen-1');
    expect((await fhir.get('Patient/client-chosen-1')).status).toBe(200);
  });

  it('refuses an update whose body id differs from the URL', async () => {
    const res = await fhir.put('Patient/url-id', { ...patient(), id: 'other-id' });
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect((await fhir.get('Patient/url-id')).status).toBe(404);
  });

  it('answers a stale If-Match with 412 and keeps the current version', async () => {
    const created = (await fhir.post('Patient', patient('Matcher'))).body;
    const ok = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'other' }, { 'if-match': 'W/"1"' });
    expect(ok.status).toBe(200);
    const stale = await fhir.put(`Patient/${created.id}`, { ...created, gender: 'unknown' }, { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.resourceType).toBe('OperationOutcome');
    const now = await fhir.get(`Patient/${created.id}`);
    expect(now.body.gender).toBe('other');
    expect(now.body.meta.versionId).toBe('2');
  });

  it('applies a JSON Patch as a new version, and refuses a patch that breaks validation', async () => {
    const created = (await fhir.post('Patient', patient('Patched'))).body;
    const res = await fhir.patch(`Patient/${created.id}`, [{ op: 'replace', path: '/gender', value: 'male' }]);
    expect(res.status).toBe(200);
    expect(res.body.gender).toBe('male');
    expect(res.body.meta.versionId).toBe('2');
    const bad = await fhir.patch(`Patient/${created.id}`, [{ op: 'replace', path: '/gender', value: 'robot' }]);
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].expression).toEqual(['Patient.gender']);
    const broken = await fhir.patch(`Patient/${created.id}`, [{ op: 'remove', path: '/nonexistent' }]);
    expect(broken.status).toBe(400);
    expect((await fhir.get(`Patient/${created.id}`)).body.meta.versionId).toBe('2');
  });

  it('164.312(c)(1): deletes as a new version — read is 410, history keeps every version, and nothing purges', async () => {
    const created = (await fhir.post('Patient', patient('Deleted'))).body;
    const del = await fhir.delete(`Patient/${created.id}`);
    expect(del.status).toBe(200);
    expect((await fhir.get(`Patient/${created.id}`)).status).toBe(410);
    expect((await fhir.delete(`Patient/${created.id}`)).status).toBe(204);
    const history = await fhir.get(`Patient/${created.id}/_history`);
    expect(history.status).toBe(200);
    expect(history.body.type).toBe('history');
    expect(history.body.entry.map((e: any) => e.request.method)).toEqual(['DELETE', 'POST']);
    expect(history.body.entry[1].resource.name[0].family).toBe('Deleted');
    expect((await fhir.get(`Patient/${created.id}/_history/1`)).status).toBe(200);
    // No interaction destroys a version: there is no purge, expunge or version delete.
    expect((await fhir.delete(`Patient/${created.id}/_history/1`)).status).toBe(404);
    expect((await fhir.post(`Patient/${created.id}/$expunge`, {})).status).toBe(404);
    expect((await fhir.get(`Patient/${created.id}/_history/1`)).status).toBe(200);
  });

  it('pages type history with next links that stay stable while new versions arrive', async () => {
    for (let i = 0; i < 5; i++) await fhir.post('Device', { resourceType: 'Device', status: 'active' });
    const first = await fhir.get('Device/_history?_count=2');
    expect(first.body.entry).toHaveLength(2);
    const next = first.body.link.find((l: any) => l.relation === 'next').url as string;
    await fhir.post('Device', { resourceType: 'Device', status: 'inactive' });
    const second = await fhir.get(next.replace('https://ward.test', ''));
    expect(second.body.entry).toHaveLength(2);
    const ids = [...first.body.entry, ...second.body.entry].map((e: any) => e.fullUrl);
    expect(new Set(ids).size).toBe(4);
  });

  it('shows system history across types', async () => {
    const res = await fhir.get('_history?_count=3');
    expect(res.status).toBe(200);
    expect(res.body.entry.length).toBe(3);
  });

  it('conditional create returns the existing match instead of a duplicate', async () => {
    const body = patient('Conditional');
    const first = await fhir.post('Patient', body, { 'if-none-exist': 'identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-Conditional' });
    expect(first.status).toBe(201);
    const second = await fhir.post('Patient', body, { 'if-none-exist': 'identifier=urn:oid:1.2.36.146.595.217.0.1|MRN-Conditional' });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    const search = await fhir.get('Patient?identifier=MRN-Conditional');
    expect(search.body.entry).toHaveLength(1);
  });

  it('conditional interactions select by any search parameter, as search does (identifier with birthdate, name with birthdate)', async () => {
    const body = {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:sys', value: 'COND-ANY' }],
      name: [{ family: 'Condington' }],
      birthDate: '1961-02-03',
    };
    const first = await fhir.post('Patient', body, { 'if-none-exist': 'identifier=urn:sys|COND-ANY&birthdate=1961-02-03' });
    expect(first.status).toBe(201);
    // The same identifier with another birth date selects nothing: a second resource is created.
    const other = await fhir.post(
      'Patient',
      { ...body, birthDate: '1971-02-03' },
      {
        'if-none-exist': 'identifier=urn:sys|COND-ANY&birthdate=1971-02-03',
      },
    );
    expect(other.status).toBe(201);
    expect(other.body.id).not.toBe(first.body.id);
    const again = await fhir.post('Patient', body, { 'if-none-exist': 'family=Condington&birthdate=1961' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const upd = await fhir.put('Patient?family=Condington&birthdate=1961-02-03', { ...body, active: true });
    expect(upd.status).toBe(200);
    expect(upd.body.id).toBe(first.body.id);
    expect((await fhir.put('Patient?family=Condington', { ...body, active: false })).status).toBe(412);
    expect((await fhir.delete('Patient?identifier=urn:sys|COND-ANY&birthdate=1971-02-03')).status).toBe(200);
    expect((await fhir.get(`Patient/${other.body.id}`)).status).toBe(410);
  });

  it('conditional update creates on no match, updates one match, and refuses several with 412', async () => {
    const made = await fhir.put('Patient?identifier=urn:sys|COND-UPD', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:sys', value: 'COND-UPD' }],
    });
    expect(made.status).toBe(201);
    const upd = await fhir.put('Patient?identifier=urn:sys|COND-UPD', {
      resourceType: 'Patient',
      identifier: [{ system: 'urn:sys', value: 'COND-UPD' }],
      active: true,
    });
    expect(upd.status).toBe(200);
    expect(upd.body.id).toBe(made.body.id);
    expect(upd.body.meta.versionId).toBe('2');
    await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:sys', value: 'COND-UPD' }] });
    const several = await fhir.put('Patient?identifier=urn:sys|COND-UPD', { resourceType: 'Patient' });
    expect(several.status).toBe(412);
  });

  it('conditional delete removes the one match', async () => {
    const made = await fhir.post('Patient', { resourceType: 'Patient', identifier: [{ system: 'urn:sys', value: 'COND-DEL' }] });
    const del = await fhir.delete('Patient?identifier=urn:sys|COND-DEL');
    expect(del.status).toBe(200);
    expect((await fhir.get(`Patient/${made.body.id}`)).status).toBe(410);
    expect((await fhir.delete('Patient?identifier=urn:sys|COND-DEL')).status).toBe(204);
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await fhir.post('Patient', patient('Minimal'), { prefer: 'return=minimal' });
    expect(minimal.status).toBe(201);
    expect(minimal.raw.body).toBe('');
    expect(minimal.headers.location).toMatch(/\/Patient\/.+\/_history\/1$/);
    const outcome = await fhir.post('Patient', patient('Outcome'), { prefer: 'return=OperationOutcome' });
    expect(outcome.body.resourceType).toBe('OperationOutcome');
  });

  it('applies _summary and _elements on read, marking the result SUBSETTED', async () => {
    const created = (
      await fhir.post('Patient', {
        ...patient('Summary'),
        text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
      })
    ).body;
    const summary = await fhir.get(`Patient/${created.id}?_summary=true`);
    expect(summary.body.text).toBeUndefined();
    expect(summary.body.name).toBeDefined();
    expect(summary.body.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
    const elements = await fhir.get(`Patient/${created.id}?_elements=gender`);
    expect(elements.body.gender).toBe('female');
    expect(elements.body.name).toBeUndefined();
  });

  it('serves a CapabilityStatement without credentials that lists every R4 resource type', async () => {
    const res = await fhirClient(t).get('metadata');
    expect(res.status).toBe(200);
    expect(res.body.fhirVersion).toBe('4.0.1');
    expect(res.body.rest[0].resource).toHaveLength(146);
    const patientEntry = res.body.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patientEntry.interaction.map((i: any) => i.code)).toEqual(
      expect.arrayContaining(['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create']),
    );
  });
});
