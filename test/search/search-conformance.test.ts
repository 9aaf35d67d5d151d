import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { observationOf, observations, patients } from './factories.js';

/** type × modifier × prefix → the labels of the resources expected (order-free). */
const PATIENT_CASES: readonly [query: string, expected: string[]][] = [
  ['name=mul', ['P1']],
  ['name=MÜL', ['P1']],
  ['name=mu', ['P1', 'P2']],
  ['family=smith', ['P3', 'P4']],
  ['family:exact=Smith', ['P3']],
  ['family:exact=smith', []],
  ['name=smithson-longn', ['P4']],
  ['name=smithson-lx', []],
  ['given=anna,carla', ['P1', 'P3']],
  ['name=mu&gender=male', ['P2']],
  ['identifier=urn:ward-test:mrn|MRN-1001', ['P1']],
  ['identifier=MRN-1001', ['P1', 'P3']],
  ['identifier=|MRN-1001', []],
  ['identifier=urn:ward-test:mrn|', ['P1', 'P2']],
  ['identifier:not=urn:ward-test:mrn|MRN-1001', ['P2', 'P3', 'P4']],
  ['identifier:missing=true', ['P4']],
  ['phone=555-0101', ['P1']],
  ['gender=female', ['P1', 'P3']],
  ['gender:not=female', ['P2', 'P4']],
  ['gender:missing=true', ['P4']],
  ['gender:missing=false', ['P1', 'P2', 'P3']],
  ['birthdate=1980', ['P1', 'P2']],
  ['birthdate=1980-03', ['P1']],
  ['birthdate=eq1980-03-15', ['P1']],
  ['birthdate=ne1980-03-15', ['P2', 'P3', 'P4']],
  ['birthdate=ge1980-06-01', ['P2', 'P4']],
  ['birthdate=gt1985', ['P4']],
  ['birthdate=lt1980', ['P3']],
  ['birthdate=le1980-03-15', ['P1', 'P3']],
  ['birthdate=ge1980&birthdate=lt1981', ['P1', 'P2']],
];

const OBSERVATION_CASES: readonly [query: string, expected: string[]][] = [
  ['code=http://loinc.org|8867-4', ['O1', 'O3']],
  ['code=8867-4', ['O1', 'O3']],
  ['code=|local-1', ['O4']],
  ['code=http://loinc.org|', ['O1', 'O2', 'O3']],
  ['code:not=8867-4', ['O2', 'O4']],
  ['code=8867-4,8310-5', ['O1', 'O2', 'O3']],
  ['code=8867-4&status=final', ['O1', 'O3']],
  ['status:missing=false', ['O1', 'O2', 'O3', 'O4']],
  ['subject=Patient/{P1}', ['O1', 'O2']],
  ['patient={P2}', ['O3', 'O4']],
  ['subject:Patient={P1}', ['O1', 'O2']],
  ['subject=https://elsewhere.example/fhir/Patient/{P1}', ['O1', 'O2']],
  ['date=2020-01', ['O1']],
  ['date=eq2020-01-15', ['O1']],
  ['date=ne2020-01-15', ['O2', 'O3', 'O4']],
  ['date=ge2020-01-01', ['O1', 'O2', 'O3', 'O4']],
  ['date=gt2020-12-31', ['O4']],
  ['date=lt2020', ['O3']],
  ['date=le2019-12-31', ['O3']],
  ['date=sa2020-01-05', ['O1', 'O2', 'O4']],
  ['date=eb2020-01-03', ['O3']],
  ['date=ge2020-01-01&date=lt2020-02', ['O1', 'O3']],
  ['value-quantity=72', ['O1']],
  ['value-quantity=gt70', ['O1', 'O3']],
  ['value-quantity=lt40', ['O2', 'O4']],
  ['value-quantity=ge100', ['O3']],
  ['value-quantity=le72', ['O1', 'O2', 'O4']],
  ['value-quantity=ne72', ['O2', 'O3', 'O4']],
  ['value-quantity=37.5|http://unitsofmeasure.org|Cel', ['O2']],
  ['value-quantity=100||/min', ['O3']],
  ['value-quantity=gt1||/min', ['O1', 'O3']],
  ['_id={O1},{O4}', ['O1', 'O4']],
  ['_lastUpdated=gt2000-01-01', ['O1', 'O2', 'O3', 'O4']],
  ['_lastUpdated=lt2000-01-01', []],
];

describe.each(engines())('search conformance on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;
  const idOf: Record<string, string> = {};
  const labelOf = new Map<string, string>();

  const resolve = (query: string) => query.replace(/\{(\w+)\}/g, (_, label: string) => idOf[label] as string);
  const labels = (bundle: any): string[] =>
    (bundle.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => labelOf.get(e.resource.id) ?? e.resource.id);

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token(SERVICE));
    for (const [label, body] of Object.entries(patients)) {
      const res = await fhir.post('Patient', body);
      expect(res.status).toBe(201);
      idOf[label] = res.body.id;
      labelOf.set(res.body.id, label);
    }
    for (const label of Object.keys(observations) as (keyof typeof observations)[]) {
      const res = await fhir.post('Observation', observationOf(label, idOf));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      idOf[label] = res.body.id;
      labelOf.set(res.body.id, label);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  it.each(PATIENT_CASES)('Patient?%s', async (query, expected) => {
    const res = await fhir.get(`Patient?${encodeURI(resolve(query))}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual([...expected].sort());
  });

  it.each(OBSERVATION_CASES)('Observation?%s', async (query, expected) => {
    const res = await fhir.get(`Observation?${encodeURI(resolve(query)).replaceAll('+', '%2B')}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual([...expected].sort());
  });

  it('sorts by a date parameter ascending and descending, and by _lastUpdated', async () => {
    expect(labels((await fhir.get('Observation?_sort=date')).body)).toEqual(['O3', 'O1', 'O2', 'O4']);
    expect(labels((await fhir.get('Observation?_sort=-date')).body)).toEqual(['O4', 'O2', 'O1', 'O3']);
    expect(labels((await fhir.get('Observation?_sort=_lastUpdated')).body)).toEqual(['O1', 'O2', 'O3', 'O4']);
    expect(labels((await fhir.get('Observation?_sort=-_lastUpdated')).body)).toEqual(['O4', 'O3', 'O2', 'O1']);
  });

  it('pages with _count and next links until the last page, with an accurate total on each', async () => {
    const seen: string[] = [];
    let url: string | undefined = 'Observation?_sort=date&_count=3&_total=accurate';
    for (let pages = 0; url && pages < 5; pages++) {
      const res = await fhir.get(url);
      expect(res.body.total).toBe(4);
      seen.push(...labels(res.body));
      const next = res.body.link.find((l: any) => l.relation === 'next')?.url as string | undefined;
      url = next ? next.replace('https://ward.test/fhir/', '') : undefined;
    }
    expect(seen).toEqual(['O3', 'O1', 'O2', 'O4']);
  });

  it('_summary=count answers the total without entries', async () => {
    const res = await fhir.get('Observation?code=8867-4&_summary=count');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(2);
    expect(res.body.entry ?? []).toEqual([]);
  });

  it('_total=none leaves the total out when more pages follow', async () => {
    const res = await fhir.get('Observation?_count=1&_total=none');
    expect(res.body.total).toBeUndefined();
    expect(labels(res.body)).toHaveLength(1);
  });

  it('POST _search with a form body finds what GET finds', async () => {
    const res = await fhir.call('POST', 'Observation/_search', 'code=8867-4', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual(['O1', 'O3']);
  });

  it("searches a patient's compartment: Patient/{id}/Observation", async () => {
    const res = await fhir.get(`Patient/${idOf.P1}/Observation`);
    expect(res.status).toBe(200);
    expect(labels(res.body).sort()).toEqual(['O1', 'O2']);
    const filtered = await fhir.get(`Patient/${idOf.P1}/Observation?code=8310-5`);
    expect(labels(filtered.body)).toEqual(['O2']);
  });

  it('refuses an unknown parameter or modifier with 400 and an OperationOutcome', async () => {
    for (const query of ['foo=bar', 'code:contains=88', 'name:contains=mu', 'date=yesterday', 'value-quantity=abc', '_sort=status']) {
      const res = await fhir.get(`Observation?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('under Prefer: handling=lenient ignores an unknown parameter, reports it, and leaves it out of the self link', async () => {
    const res = await fhir.get('Observation?foo=bar&code=8867-4', { prefer: 'handling=lenient' });
    expect(res.status).toBe(200);
    expect(labels(res.body).sort()).toEqual(['O1', 'O3']);
    const self = res.body.link.find((l: any) => l.relation === 'self').url;
    expect(self).toBe('https://ward.test/fhir/Observation?code=8867-4');
    const outcome = res.body.entry.find((e: any) => e.search.mode === 'outcome');
    expect(outcome.resource.issue[0].diagnostics).toContain('foo');
  });

  it('an update replaces the index values and a delete removes them', async () => {
    const created = await fhir.post('Patient', { resourceType: 'Patient', name: [{ family: 'Zebulon' }] });
    const id = created.body.id;
    expect((await fhir.get('Patient?family=zebu')).body.entry).toHaveLength(1);
    await fhir.put(`Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: 'Yarrow' }] });
    expect((await fhir.get('Patient?family=zebu')).body.entry ?? []).toHaveLength(0);
    expect((await fhir.get('Patient?family=yarr')).body.entry).toHaveLength(1);
    await fhir.delete(`Patient/${id}`);
    expect((await fhir.get('Patient?family=yarr')).body.entry ?? []).toHaveLength(0);
  });
});
