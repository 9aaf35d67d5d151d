import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { type SyntheaBundle, syntheaBundles } from '../support/synthea.js';

/** Every `reference` string in a resource, at any depth (contained resources included). */
function referencesOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencesOf);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === 'reference' && typeof v === 'string' ? [v] : referencesOf(v)));
}

interface Expected {
  readonly patient: string;
  /** The Patient and every entry that references it. */
  readonly record: readonly string[];
  /** Entries outside the record that the record references. */
  readonly supporting: readonly string[];
}

/**
 * What `$everything` must return for a fixture patient, worked out from the fixture alone: a
 * Synthea Bundle holds one patient; the entries that reference it are its record, and the
 * entries they reference that are not part of it (practitioners, organizations) support it.
 */
function expectedOf(bundle: SyntheaBundle, assigned: readonly string[]): Expected {
  const keyOf = new Map(bundle.entries.map((e, i) => [e.fullUrl, assigned[i] as string]));
  const patientEntry = bundle.entries.find((e) => e.resource.resourceType === 'Patient');
  if (!patientEntry) throw new Error(`${bundle.file} has no Patient`);
  const inRecord = bundle.entries.filter((e) => e === patientEntry || referencesOf(e.resource).includes(patientEntry.fullUrl));
  const recordUrls = new Set(inRecord.map((e) => e.fullUrl));
  const supporting = new Set(inRecord.flatMap((e) => referencesOf(e.resource)).filter((r) => keyOf.has(r) && !recordUrls.has(r)));
  return {
    patient: keyOf.get(patientEntry.fullUrl) as string,
    record: inRecord.map((e) => keyOf.get(e.fullUrl) as string),
    supporting: [...supporting].map((r) => keyOf.get(r) as string),
  };
}

const keys = (res: Call): string[] =>
  (res.body.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
const sorted = (a: readonly string[]) => [...a].sort();
const ofTypes = (all: readonly string[], ...types: string[]) => all.filter((k) => types.includes(k.split('/')[0] as string));
const nextOf = (res: Call): string | undefined => res.body.link?.find((l: any) => l.relation === 'next')?.url;
const relative = (url: string) => url.replace('https://ward.test', '');

describe.each(engines())('Patient/$everything over the Synthea fixtures on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;
  const expected: Expected[] = [];

  beforeAll(async () => {
    t = await openTestWard(engine);
    fhir = fhirClient(t, await t.token({ ...SERVICE, ttl: '1h' }));
    // The three smallest fixtures: other patients' records sit beside each one.
    const bundles = syntheaBundles()
      .sort((a, b) => a.entries.length - b.entries.length)
      .slice(0, 3);
    for (const bundle of bundles) {
      const res = await fhir.post('/fhir', { resourceType: 'Bundle', type: 'transaction', entry: bundle.entries });
      expect(res.status, bundle.file).toBe(200);
      const assigned = res.body.entry.map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
      expected.push(expectedOf(bundle, assigned));
    }
  }, 300_000);
  afterAll(async () => t?.close());

  /** Follows `next` links from `url`, returning every page. */
  async function allPages(client: FhirClient, url: string): Promise<Call[]> {
    const pages: Call[] = [];
    for (let next: string | undefined = url; next; next = nextOf(pages[pages.length - 1] as Call)) {
      const res = await client.get(relative(next));
      expect(res.status, next).toBe(200);
      pages.push(res);
      expect(pages.length).toBeLessThan(100);
    }
    return pages;
  }

  it('returns the Patient first, its whole record and what the record references, nothing of other patients', async () => {
    for (const e of expected) {
      const res = await fhir.get(`${e.patient}/$everything?_count=500`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      expect(keys(res)[0]).toBe(e.patient);
      expect(sorted(keys(res))).toEqual(sorted([...e.record, ...e.supporting]));
      expect(res.body.total).toBe(e.record.length + e.supporting.length);
      expect(e.supporting.length).toBeGreaterThan(0);
      const modes = new Map<string, string>(res.body.entry.map((x: any) => [`${x.resource.resourceType}/${x.resource.id}`, x.search.mode]));
      for (const k of e.record) expect(modes.get(k), k).toBe('match');
      for (const k of e.supporting) expect(modes.get(k), k).toBe('include');
      expect(nextOf(res)).toBeUndefined();
    }
  });

  it("164.524 (incl. (a)(1) exclusions) · 164.312(a)(1) (compartment): the patient's own token gets their whole fixture record, and nothing of another patient", async () => {
    const [e, other] = expected as [Expected, Expected];
    const own = fhirClient(t, await t.token({ role: 'patient', sub: e.patient, scope: 'patient/*.rs' }));
    const pages = await allPages(own, `/fhir/${e.patient}/$everything?_count=100`);
    // The directory entries the record names (Practitioner, Organization, …) come too: a patient reads directory resources (ADR 0009).
    expect(sorted(pages.flatMap(keys))).toEqual(sorted([...e.record, ...e.supporting]));
    const practitioner = ofTypes(e.supporting, 'Practitioner')[0] as string;
    expect((await own.get(practitioner)).status).toBe(200);
    // Reading them is all: a patient creates none.
    expect((await own.post('Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Forged' }] })).status).toBe(403);
    const refused = await own.get(`${other.patient}/$everything`);
    expect(refused.status).toBe(404);
    expect(JSON.stringify(refused.body)).not.toContain(other.patient.split('/')[1]);
  });

  it('pages by next links: every page holds at most _count entries and all pages give every id exactly once', async () => {
    const e = expected[2] as Expected;
    const pages = await allPages(fhir, `/fhir/${e.patient}/$everything?_count=17`);
    const all = pages.flatMap(keys);
    for (const page of pages) expect(keys(page).length).toBeLessThanOrEqual(17);
    expect(pages.length).toBe(Math.ceil(all.length / 17));
    expect(new Set(all).size).toBe(all.length);
    expect(sorted(all)).toEqual(sorted([...e.record, ...e.supporting]));
    // A page size of one crosses from the Patient to its record and from the record to what supports it.
    const single = (await allPages(fhir, `/fhir/${e.patient}/$everything?_count=1&_type=Patient,Encounter,Organization`)).flatMap(keys);
    expect(single).toEqual([
      e.patient,
      ...sorted(ofTypes(e.record, 'Encounter')),
      ...sorted(ofTypes([...e.record, ...e.supporting], 'Organization')),
    ]);
  });

  it('_type keeps only the named types (repeated and comma-separated), the Patient included only when named', async () => {
    const e = expected[0] as Expected;
    const all = [...e.record, ...e.supporting];
    const res = await fhir.get(`${e.patient}/$everything?_type=Encounter,Practitioner&_type=Condition&_count=500`);
    expect(res.status).toBe(200);
    expect(sorted(keys(res))).toEqual(sorted(ofTypes(all, 'Encounter', 'Practitioner', 'Condition')));
    expect(keys(res)).not.toContain(e.patient);
    const withPatient = await fhir.get(`${e.patient}/$everything?_type=Patient,Organization`);
    expect(sorted(keys(withPatient))).toEqual(sorted(ofTypes(all, 'Patient', 'Organization')));
    expect(res.body.link[0].url).toContain('_type=Encounter%2CPractitioner&_type=Condition');
  });

  it('_since keeps only resources updated at or after the instant, a supporting one included', async () => {
    const e = expected[1] as Expected;
    const mark = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const touched: string[] = [];
    for (const key of [ofTypes(e.record, 'Observation')[0], ofTypes(e.supporting, 'Practitioner')[0]] as string[]) {
      const current = (await fhir.get(key)).body;
      expect((await fhir.put(key, { ...current, language: 'en' })).status).toBe(200);
      touched.push(key);
    }
    const res = await fhir.get(`${e.patient}/$everything?_since=${mark.toISOString()}`);
    expect(res.status).toBe(200);
    expect(sorted(keys(res))).toEqual(sorted(touched));
    const none = await fhir.get(`${e.patient}/$everything?_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    expect(keys(none)).toEqual([]);
    expect(none.body.total).toBe(0);
  });

  it('POST with a Parameters resource answers as GET does', async () => {
    const e = expected[0] as Expected;
    const get = await fhir.get(`${e.patient}/$everything?_type=Observation,Organization&_count=500`);
    const post = await fhir.post(`${e.patient}/$everything`, {
      resourceType: 'Parameters',
      parameter: [
        { name: '_type', valueCode: 'Observation,Organization' },
        { name: '_count', valueInteger: 500 },
      ],
    });
    expect(post.status).toBe(200);
    expect(keys(post)).toEqual(keys(get));
    expect(keys(post).length).toBeGreaterThan(1);
  });

  it('refuses unknown parameters with 400, or ignores and reports them under Prefer: handling=lenient', async () => {
    const e = expected[0] as Expected;
    const refused = await fhir.get(`${e.patient}/$everything?_type=Encounter&code=1234`);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-supported' }] });
    const lenient = await fhir.get(`${e.patient}/$everything?_type=Encounter&code=1234`, { prefer: 'handling=lenient' });
    expect(lenient.status).toBe(200);
    expect(sorted(keys(lenient))).toEqual(sorted(ofTypes(e.record, 'Encounter')));
    const outcome = lenient.body.entry.find((x: any) => x.search.mode === 'outcome');
    expect(outcome.resource.issue[0].diagnostics).toContain('code');
    expect(lenient.body.link[0].url).not.toContain('code=');
    for (const bad of [
      '_since=2020-01-01',
      '_type=Nonsense',
      '_count=0',
      'start=yesterday',
      '_page=3:Observation/x',
      'start=2020&start=2021',
    ]) {
      const res = await fhir.get(`${e.patient}/$everything?${bad}`, { prefer: 'handling=lenient' });
      expect(res.status, bad).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  it('ASTM E2147-18 §7.1.9: one audit entry names the patient, the operation, its parameters, the request time and the ids returned', async () => {
    const e = expected[0] as Expected;
    const before = await lastAuditSeq(t.ward);
    const res = await fhir.get(`${e.patient}/$everything?_type=Encounter,Practitioner&_count=5`);
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(1);
    const entry = rows[0]?.parsed;
    expect(entry).toMatchObject({
      action: 'search',
      resourceType: 'Patient',
      resourceId: e.patient.split('/')[1],
      patientId: e.patient.split('/')[1],
      outcome: { status: 200 },
      decision: { effect: 'permit' },
      detail: { operation: 'Patient/$everything', query: '_type=Encounter,Practitioner&_count=5' },
    });
    expect(entry.returned).toEqual(keys(res));
    expect(entry.returned).toHaveLength(5);
    expect(Date.parse(entry.detail.requested)).toBeLessThanOrEqual(Date.parse(entry.time));
  });

  it('answers 404 for a missing patient and for another operation name, and audits it', async () => {
    const before = await lastAuditSeq(t.ward);
    const missing = await fhir.get(`Patient/${randomUUID()}/$everything`);
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows.map((r) => r.parsed.outcome.status)).toEqual([404]);
    expect((await fhir.get(`Encounter/${randomUUID()}/$everything`)).status).toBe(404);
  });

  it('is advertised in the CapabilityStatement', async () => {
    const cs = (await fhirClient(t).get('metadata')).body;
    const patient = cs.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.operation).toEqual([
      expect.objectContaining({ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }),
    ]);
  });
});
