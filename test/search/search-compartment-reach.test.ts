import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';

const patient = (family: string) => ({ resourceType: 'Patient', name: [{ family, given: ['Test'] }], birthDate: '1970-01-01' });
const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });

/**
 * Patient A's token must get nothing of patient B through the ways search follows references:
 * `_include`, `_revinclude` (with :iterate and *), chained parameters and `_has`. The fixtures
 * give each a path from A's data to B's: A's Observation names B as its focus (not a compartment
 * link, so it stays A's alone), and B's Observation is derived from A's.
 */
describe.each(engines())('search reach across compartments on %s', (engine) => {
  let t: TestWard;
  let writer: FhirClient;
  const id: Record<'A' | 'B' | 'obsA' | 'obsB', string> = {} as never;
  const scoped: Record<'patient principal Patient/A' | 'user with patient context A', FhirClient> = {} as never;

  beforeAll(async () => {
    t = await openTestWard(engine);
    writer = fhirClient(t, await t.token(SERVICE));
    id.A = (await writer.post('Patient', patient('Alpha'))).body.id;
    id.B = (await writer.post('Patient', patient('Bravo'))).body.id;
    const obsA = await writer.post('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('8867-4'),
      subject: { reference: `Patient/${id.A}` },
      focus: [{ reference: `Patient/${id.B}` }],
    });
    expect(obsA.status).toBe(201);
    id.obsA = obsA.body.id;
    const obsB = await writer.post('Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: loinc('2339-0'),
      subject: { reference: `Patient/${id.B}` },
      derivedFrom: [{ reference: `Observation/${id.obsA}` }],
    });
    expect(obsB.status).toBe(201);
    id.obsB = obsB.body.id;
    scoped['patient principal Patient/A'] = fhirClient(
      t,
      await t.token({ role: 'patient', sub: `Patient/${id.A}`, scope: 'patient/*.rs' }),
    );
    // The clinician in A's context is on A's care team: their reach to A is a relationship (ADR 0009).
    expect((await writer.post('CareTeam', careTeam(id.A, 'Practitioner/reach-ctx'))).status).toBe(201);
    scoped['user with patient context A'] = fhirClient(
      t,
      await t.token({ role: 'physician', sub: 'Practitioner/reach-ctx', scope: 'patient/*.cruds', patient: id.A }),
    );
  }, 120_000);
  afterAll(async () => t?.close());

  const kinds = ['patient principal Patient/A', 'user with patient context A'] as const;
  const entryIds = (res: Call): string[] => (res.body.entry ?? []).map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);

  /** Runs a search as `client` and asserts that neither the response nor its audit entry carries anything of B. */
  async function expectNothingOfB(client: FhirClient, url: string): Promise<{ res: Call; entry: any }> {
    const before = await lastAuditSeq(t.ward);
    const res = await client.get(url);
    expect(res.status, url).toBe(200);
    // A's Observation names B as its focus, so B's id may appear inside it; B's own resources may not.
    // The self link echoes the caller's own query; everything else must be free of B.
    const served = JSON.stringify(res.body.entry ?? []);
    for (const secret of [id.obsB, 'Bravo', '2339-0']) expect(served, `${url} leaks ${secret}`).not.toContain(secret);
    const matched = (res.body.entry ?? []).filter((e: any) => e.search.mode === 'match');
    if (res.body.total !== undefined) expect(res.body.total, url).toBe(matched.length);
    expect(entryIds(res), url).not.toContain(`Patient/${id.B}`);
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows, url).toHaveLength(1);
    const entry = rows[0]?.parsed;
    expect(entry.returned ?? [], url).not.toContain(`Patient/${id.B}`);
    expect(entry.returned ?? [], url).not.toContain(`Observation/${id.obsB}`);
    expect(entry.detail?.patients ?? '', url).not.toContain(id.B);
    return { res, entry };
  }

  describe.each(kinds)('as a %s', (kind) => {
    it('164.312(a)(1) (compartment): _include and _revinclude (with :iterate and *) return nothing of patient B', async () => {
      const client = scoped[kind];
      const { res } = await expectNothingOfB(client, `Observation?_id=${id.obsA}&_include=Observation:focus`);
      expect(entryIds(res)).toEqual([`Observation/${id.obsA}`]);
      for (const url of [
        `Observation?_id=${id.obsA}&_include=*`,
        `Observation?_id=${id.obsA}&_include=Observation:focus&_revinclude:iterate=Observation:subject`,
        `Observation?_id=${id.obsA}&_revinclude=Observation:derived-from`,
        `Observation?_id=${id.obsA}&_revinclude=*`,
        `Patient?_id=${id.A}&_revinclude=*&_include:iterate=*&_revinclude:iterate=*`,
        `Patient?_id=${id.B}&_revinclude=Observation:subject`,
      ]) {
        await expectNothingOfB(client, url);
      }
      // A's own data still comes through the same parameters.
      const own = await expectNothingOfB(client, `Patient?_id=${id.A}&_revinclude=Observation:subject`);
      expect(entryIds(own.res).sort()).toEqual([`Observation/${id.obsA}`, `Patient/${id.A}`].sort());
    });

    it('164.312(a)(1) (compartment): chained parameters and _has return nothing of patient B', async () => {
      const client = scoped[kind];
      for (const url of [
        'Observation?subject.name=bravo',
        'Observation?subject:Patient.name=bravo',
        `Patient?_has:Observation:subject:code=2339-0`,
        `Observation?_has:Observation:derived-from:_has:Observation:derived-from:status=final`,
      ]) {
        const { res } = await expectNothingOfB(client, url);
        expect(res.body.entry ?? [], url).toEqual([]);
      }
    });

    it('164.312(a)(1) (no existence oracle): a chain or _has through a resource the caller cannot see matches nothing', async () => {
      const client = scoped[kind];
      // Each would match A's own Observation if its inner search saw B's data: B's name, B's Observation's code.
      for (const url of [
        'Observation?focus:Patient.name=bravo',
        'Observation?focus.name=bravo&_total=accurate',
        'Observation?focus:Patient.birthdate=1970-01-01',
        `Observation?_id=${id.obsA}&_has:Observation:derived-from:code=2339-0`,
        `Observation?_has:Observation:derived-from:code=2339-0&_total=accurate`,
      ]) {
        const { res } = await expectNothingOfB(client, url);
        expect(res.body.entry ?? [], url).toEqual([]);
      }
      // The control: with the inner resources visible the same queries find A's Observation.
      for (const url of ['Observation?focus:Patient.name=alpha,bravo', `Observation?_has:Observation:derived-from:status=final`]) {
        expect(entryIds(await writer.get(url)), url).toEqual([`Observation/${id.obsA}`]);
      }
    });
  });

  it("a clinician who may see both finds A's Observation through B by chain and _has", async () => {
    expect(entryIds(await writer.get('Observation?focus:Patient.name=bravo'))).toEqual([`Observation/${id.obsA}`]);
    expect(entryIds(await writer.get('Observation?_has:Observation:derived-from:code=2339-0'))).toEqual([`Observation/${id.obsA}`]);
  });

  it('ASTM E2147-18 §7.1.9 (via 170.210(e)): a chained or _has criterion with an identifying inner value is audited by its name only', async () => {
    const before = await lastAuditSeq(t.ward);
    await writer.get(`Observation?focus:Patient.name=Bravo&subject.identifier=urn:x|MRN-77&_has:Observation:derived-from:code=2339-0`);
    const [row] = await auditRowsAfter(t.ward, before);
    expect(row?.parsed.detail.query).toBe(
      'focus:Patient.name=[focus:Patient.name]&subject.identifier=[subject.identifier]&_has:Observation:derived-from:code=2339-0',
    );
    expect(row?.entry).not.toMatch(/Bravo|MRN-77/);
  });

  it('ASTM E2147-18 §7.1.9 (via 170.210(e)): a search entry lists the included ids and their patients', async () => {
    const before = await lastAuditSeq(t.ward);
    const res = await writer.get(`Observation?_id=${id.obsA}&_include=Observation:focus&_revinclude=Observation:derived-from`);
    expect(entryIds(res).sort()).toEqual([`Observation/${id.obsA}`, `Observation/${id.obsB}`, `Patient/${id.B}`].sort());
    const [row] = await auditRowsAfter(t.ward, before);
    const entry = row?.parsed;
    expect(entry.returned.sort()).toEqual([`Observation/${id.obsA}`, `Observation/${id.obsB}`, `Patient/${id.B}`].sort());
    expect(entry.detail.included.split(' ').sort()).toEqual([`Observation/${id.obsB}`, `Patient/${id.B}`].sort());
    expect(entry.detail.patients.split(' ').sort()).toEqual([id.A, id.B].sort());
    expect(entry.detail.query).toBe(`_id=${id.obsA}&_include=Observation:focus&_revinclude=Observation:derived-from`);
  });
});
