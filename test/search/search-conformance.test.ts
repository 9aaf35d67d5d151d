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
  ['identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-1001', ['P1']],
  ['identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-1002', []],
  ['identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|SS|MRN-1001', []],
  ['identifier:text=medical rec', ['P1']],
  ['identifier:text=social', []],
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
  ['code:text=heart', ['O1']],
  ['code:text=PULSE', ['O1']],
  ['code:text=body temp', ['O2']],
  ['code:text=body temperature', ['O2']],
  ['code:text=body temperatures', []],
  ['code:text=rate', []],
  ['performer:identifier=urn:ward-test:npi|NPI-4711', ['O2']],
  ['performer:identifier=NPI-4711', ['O2']],
  ['performer:identifier=urn:ward-test:other|NPI-4711', []],
  ['subject:Group={P1}', []],
  ['_tag=urn:ward-test:tag|reviewed', ['O1']],
  ['_tag:not=reviewed', ['O2', 'O3', 'O4']],
  ['_profile=http://hl7.org/fhir/StructureDefinition/heartrate', ['O1']],
  ['_profile:below=http://hl7.org/fhir/StructureDefinition/', ['O1']],
  ['_profile:below=http://hl7.org/fhir/ValueSet/', []],
  ['_source=urn:ward-test:device#monitor-7', ['O1']],
  ['_source:above=urn:ward-test:device#monitor-7', ['O1']],
  ['_security=http://terminology.hl7.org/CodeSystem/v3-ObservationValue|HTEST', ['O1']],
  ['_security:missing=true', ['O2', 'O3', 'O4']],
  ['component-code=8480-6', ['O4']],
  ['component-value-quantity=gt100', ['O4']],
  ['code-value-quantity=http://loinc.org|8867-4$gt80', ['O3']],
  ['code-value-quantity=8867-4$72', ['O1']],
  ['code-value-quantity=8867-4$gt80,8310-5$lt38', ['O2', 'O3']],
  ['code-value-quantity=8867-4$lt38,8310-5$gt80', []],
  ['code-value-quantity=8867-4$gt1||/min&code-value-quantity=8867-4$lt80', ['O1']],
  ['component-code-value-quantity=http://loinc.org|8480-6$gt100', ['O4']],
  ['component-code-value-quantity=8462-4$gt100', []],
  ['component-code-value-quantity=8462-4$lt90', ['O4']],
  ['combo-code-value-quantity=8480-6$120', ['O4']],
  ['combo-code-value-quantity=8867-4$100', ['O3']],
];

/** Chained parameters and _has (reverse chaining): the inner search runs on the referenced or referring type. */
const CHAIN_CASES: readonly [query: string, expected: string[]][] = [
  ['Observation?subject:Patient.name=mul', ['O1', 'O2']],
  ['Observation?subject.name=mul', ['O1', 'O2']],
  ['Observation?patient.name=smithson-longn', []],
  ['Observation?subject:Patient.family:exact=Mueller', ['O3', 'O4']],
  ['Observation?patient.birthdate=1980-11', ['O3', 'O4']],
  ['Observation?patient.birthdate=ge1980-06-01', ['O3', 'O4']],
  ['Observation?patient.identifier=urn:ward-test:mrn|MRN-1001', ['O1', 'O2']],
  ['Observation?subject.gender=male&code=local-1', ['O4']],
  ['Observation?subject:Patient.name=mul,smith', ['O1', 'O2']],
  ['Observation?patient.organization.name=ward gen', ['O1', 'O2']],
  ['Observation?patient.organization:Organization.name=elsewhere', []],
  ['Patient?organization.name=ward', ['P1']],
  ['Patient?_has:Observation:patient:code=8310-5', ['P1']],
  ['Patient?_has:Observation:subject:value-quantity=gt70', ['P1', 'P2']],
  ['Patient?_has:Observation:patient:status=final&gender=female', ['P1']],
  ['Patient?_has:Observation:patient:code:not=8867-4', ['P1', 'P2']],
  ['Patient?_has:Observation:patient:date=2021', ['P2']],
  ['Organization?_has:Patient:organization:_has:Observation:patient:code=8310-5', ['ORG']],
  ['Organization?_has:Patient:organization:name=mul', ['ORG']],
  ['Organization?_has:Patient:organization:name=smith', []],
];

/** _include / _revinclude: query → [matches, included] (labels, order-free). */
const INCLUDE_CASES: readonly [query: string, matches: string[], included: string[]][] = [
  ['Observation?code=8310-5&_include=Observation:patient', ['O2'], ['P1']],
  ['Observation?code=8310-5&_include=Observation:subject:Patient', ['O2'], ['P1']],
  ['Observation?code=8310-5&_include=Observation:subject:Group', ['O2'], []],
  ['Observation?code=8867-4&_include=*', ['O1', 'O3'], ['P1', 'P2']],
  ['Observation?code=8867-4&_include=Observation:*', ['O1', 'O3'], ['P1', 'P2']],
  ['Patient?_id={P1}&_revinclude=Observation:subject', ['P1'], ['O1', 'O2']],
  ['Patient?_id={P2}&_revinclude=*', ['P2'], ['O3', 'O4']],
  ['Patient?gender=female&_revinclude=Observation:patient', ['P1', 'P3'], ['O1', 'O2']],
  ['Observation?_id={O1}&_include=Observation:patient&_revinclude=Observation:patient', ['O1'], ['P1']],
  ['Observation?_id={O1}&_include=Observation:patient&_revinclude:iterate=Observation:patient', ['O1'], ['P1', 'O2']],
  ['Observation?_id={O3}&_include=Observation:patient&_revinclude:iterate=*', ['O3'], ['P2', 'O4']],
  ['Observation?code=8310-5&_summary=count&_include=Observation:patient', [], []],
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
    const org = await fhir.post('Organization', { resourceType: 'Organization', name: 'Ward General' });
    idOf.ORG = org.body.id;
    labelOf.set(org.body.id, 'ORG');
    for (const [label, body] of Object.entries(patients)) {
      const managed = label === 'P1' ? { managingOrganization: { reference: `Organization/${idOf.ORG}` } } : {};
      const res = await fhir.post('Patient', { ...body, ...managed });
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
    const res = await fhir.get(`Observation?${encodeURI(resolve(query)).replaceAll('+', '%2B').replaceAll('#', '%23')}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual([...expected].sort());
  });

  it.each(CHAIN_CASES)('%s', async (query, expected) => {
    const res = await fhir.get(encodeURI(resolve(query)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual([...expected].sort());
  });

  it('refuses a chain deeper than two levels, through a non-reference parameter, or to an unknown inner parameter', async () => {
    for (const query of [
      'Observation?patient.organization.partof.name=x',
      'Observation?code.name=x',
      'Observation?subject:Patient.nope=x',
      'Observation?subject:Nope.name=x',
      'Patient?_has:Observation:code:status=final',
      'Patient?_has:Observation:patient:nope=1',
      'Patient?_has:Nope:patient:code=1',
      'Patient?_has:Observation:patient=1',
    ]) {
      const res = await fhir.get(query);
      expect(res.status, query).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it.each(INCLUDE_CASES)('%s', async (query, matches, included) => {
    const res = await fhir.get(encodeURI(resolve(query)));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(labels(res.body).sort()).toEqual([...matches].sort());
    const includes = (res.body.entry ?? []).filter((e: any) => e.search?.mode === 'include');
    expect(includes.map((e: any) => labelOf.get(e.resource.id)).sort()).toEqual([...included].sort());
  });

  it('refuses an _include that does not start from the searched type, a non-reference parameter, or an unknown modifier', async () => {
    for (const query of [
      'Observation?_include=Patient:organization',
      'Observation?_include=Observation:code',
      'Observation?_include=Nope:patient',
      'Observation?_include:deep=Observation:patient',
      'Patient?_revinclude=Observation',
    ]) {
      const res = await fhir.get(query);
      expect(res.status, query).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
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

  it('pages back with previous links to the first page, each link showing the applied parameters', async () => {
    const pages: string[][] = [];
    let res = await fhir.get('Observation?_sort=date&_count=1&code:not=local-1');
    for (;;) {
      pages.push(labels(res.body));
      const next = res.body.link.find((l: any) => l.relation === 'next')?.url as string | undefined;
      if (!next) break;
      expect(next).toContain('_sort=date&_count=1&code%3Anot=local-1&_offset=');
      res = await fhir.get(next.replace('https://ward.test/fhir/', ''));
    }
    expect(pages).toEqual([['O3'], ['O1'], ['O2']]);
    const back: string[][] = [];
    for (;;) {
      back.push(labels(res.body));
      const links = Object.fromEntries(res.body.link.map((l: any) => [l.relation, l.url]));
      if (!links.previous) break;
      expect(links.first).toBe('https://ward.test/fhir/Observation?_sort=date&_count=1&code%3Anot=local-1');
      res = await fhir.get(links.previous.replace('https://ward.test/fhir/', ''));
    }
    expect(back).toEqual([['O2'], ['O1'], ['O3']]);
  });

  it('_total=estimate gives the total when every match was visited, never an unfiltered count', async () => {
    const all = await fhir.get('Observation?_total=estimate');
    expect(all.body.total).toBe(4);
    expect(all.body.link[0].url).toBe('https://ward.test/fhir/Observation?_total=estimate');
    // One batch read every match, so even a one-entry page knows the (visible) total.
    const paged = await fhir.get('Observation?_total=estimate&_count=1');
    expect(labels(paged.body)).toHaveLength(1);
    expect(paged.body.total).toBe(4);
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

  it('a first page reads only as far as it needs: with more matches than the page, a next link and no total unless one is asked for', async () => {
    const page = await fhir.get('Observation?_count=2&_sort=date');
    expect(labels(page.body)).toHaveLength(2);
    expect(page.body.link.some((l: any) => l.relation === 'next')).toBe(true);
    expect(page.body.total).toBeUndefined();
    expect((await fhir.get('Observation?_count=2&_sort=date&_total=accurate')).body.total).toBe(4);
    const counted = await fhir.get('Observation?_count=0');
    expect(counted.body.total).toBe(4);
    expect(counted.body.entry ?? []).toEqual([]);
    // A page that holds every match still says how many there are.
    expect((await fhir.get('Observation?_count=4')).body.total).toBe(4);
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
    for (const query of [
      'foo=bar',
      'code:contains=88',
      'name:contains=mu',
      'code:in=http://hl7.org/fhir/ValueSet/observation-vitalsignresult',
      'code:below=http://loinc.org|8867-4',
      'identifier:of-type=MR|MRN-1001',
      'code-value-quantity=8867-4',
      'code-value-quantity:missing=true',
      'date=yesterday',
      'value-quantity=abc',
      '_sort=status',
    ]) {
      const res = await fhir.get(`Observation?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('_elements returns only the elements asked for (and the mandatory ones), on matches and included resources', async () => {
    const res = await fhir.get(`Observation?_id=${idOf.O1}&_elements=status&_include=Observation:patient`);
    expect(res.status).toBe(200);
    const [match, included] = res.body.entry;
    expect(match.resource.status).toBe('final');
    expect(match.resource.valueQuantity).toBeUndefined();
    expect(match.resource.effectiveDateTime).toBeUndefined();
    expect(match.resource.id).toBe(idOf.O1);
    expect(included.search.mode).toBe('include');
  });

  it('the CapabilityStatement lists composites, _include targets and the supported modifiers', async () => {
    const res = await fhir.get('metadata');
    const observation = res.body.rest[0].resource.find((r: any) => r.type === 'Observation');
    const param = (name: string) => observation.searchParam.find((p: any) => p.name === name);
    expect(param('code-value-quantity')).toMatchObject({ type: 'composite' });
    expect(param('component-code-value-quantity')).toMatchObject({ type: 'composite' });
    expect(param('code').documentation).toContain(':text');
    expect(param('subject').documentation).toContain(':identifier');
    expect(observation.searchInclude).toEqual(expect.arrayContaining(['*', 'Observation:patient', 'Observation:subject']));
    expect(observation.searchRevInclude).toEqual(['*']);
  });

  it('refuses :contains on a string parameter with a 400 that says why', async () => {
    const res = await fhir.get('Patient?name:contains=ull');
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(':contains is not supported, because string values are stored only as keyed hashes');
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
