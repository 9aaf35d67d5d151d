import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSearch, validateResource } from '../../src/fhir/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';

const DAY = '2024-03-04';
const at = (time: string) => new Date(`${DAY}T${time}Z`);

/** The ward's patients; its doctor and nurse reach them as members of the managing organization's unit (ADR 0009). */
const UNIT = 'Organization/ward-unit';
const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family }],
  gender: 'unknown',
  managingOrganization: { reference: UNIT },
});
const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'heart rate' },
  subject: { reference: `Patient/${patientId}` },
});

const errorsOf = (resource: unknown) =>
  validateResource(resource, 'AuditEvent').filter((i) => i.severity === 'error' || i.severity === 'fatal');
const idsOf = (bundle: any): number[] => (bundle.entry ?? []).map((e: any) => Number(e.resource.id));

/** Follows next links from a first page, collecting every entry's id. */
async function allPages(client: FhirClient, first: string): Promise<{ ids: number[]; pages: number }> {
  const ids: number[] = [];
  let url: string | undefined = first;
  let pages = 0;
  while (url) {
    const res = await client.get(url.replace('https://ward.test', ''));
    expect(res.status).toBe(200);
    ids.push(...idsOf(res.body));
    pages++;
    url = res.body.link.find((l: any) => l.relation === 'next')?.url;
  }
  return { ids, pages };
}

describe.each(engines())('the auditor API on %s', (engine) => {
  let t: TestWard;
  let doctor: FhirClient;
  let nurse: FhirClient;
  let billing: FhirClient;
  let officer: FhirClient;
  let auditor: FhirClient;
  let pA: string;
  let pB: string;
  let obsA: string;
  /** The scripted entries by label, with what the log holds about each. */
  const script = new Map<
    string,
    { seq: number; time: string; principal: string; patient: string | null; action: string; outcome: string }
  >();

  /** Runs one scripted request at a fixed time and remembers its one audit entry under a label. */
  async function step(label: string, time: string, send: () => Promise<Call>): Promise<Call> {
    t.setNow(at(time));
    const before = await lastAuditSeq(t.ward);
    const res = await send();
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows, label).toHaveLength(1);
    const row = rows[0] as (typeof rows)[number];
    script.set(label, {
      seq: row.seq,
      time: row.recordedAt.toISOString(),
      principal: row.principalId,
      patient: row.patientId,
      action: row.action,
      outcome: row.outcome,
    });
    return res;
  }
  const seqs = (...labels: string[]) => labels.map((l) => script.get(l)?.seq as number);

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(at('08:00:00'));
    const token = (role: string, sub: string, scope: string, organization?: string) =>
      t.token({ role, sub, scope, ttl: '24h', ...(organization ? { organization } : {}) });
    doctor = fhirClient(t, await token('physician', 'Practitioner/doc-a', 'user/*.cruds', UNIT));
    nurse = fhirClient(t, await token('nurse', 'Practitioner/nurse-b', 'user/*.cruds', UNIT));
    billing = fhirClient(t, await token('billing', 'Practitioner/billing-c', 'user/*.rs'));
    officer = fhirClient(t, await token('privacy-officer', 'Practitioner/po-1', 'user/AuditEvent.crs user/Patient.rs'));
    auditor = fhirClient(t, await token('auditor', 'Practitioner/aud-1', 'user/AuditEvent.rs'));

    pA = (await step('create A', '09:00:00', () => doctor.post('Patient', patient('Alpha')))).body.id;
    pB = (await step('create B', '09:01:00', () => doctor.post('Patient', patient('Bravo')))).body.id;
    obsA = (await step('create obsA', '09:02:00', () => doctor.post('Observation', observation(pA)))).body.id;
    await step('nurse reads A', '10:00:00', () => nurse.get(`Patient/${pA}`));
    await step('doctor searches obsA', '10:30:00', () => doctor.get(`Observation?_id=${obsA}`));
    await step('billing refused obsA', '11:00:00', () => billing.get(`Observation/${obsA}`));
    await step('nurse reads B', '11:30:00', () => nurse.get(`Patient/${pB}`));
    await step('anonymous refused', '12:00:00', () => fhirClient(t).get(`Patient/${pA}`));
    await step('doctor reads B', '13:00:00', () => doctor.get(`Patient/${pB}`));
    t.setNow(at('14:00:00'));
  });
  afterAll(async () => t?.close());

  describe('scripted: AuditEvent search returns exactly the expected entries', () => {
    const window = `date=ge${DAY}T09:00:00Z&date=lt${DAY}T14:00:00Z`;
    const cases: [string, string, string[]][] = [
      [
        'a time range',
        `date=ge${DAY}T10:00:00Z&date=lt${DAY}T12:00:00Z`,
        ['nurse reads A', 'doctor searches obsA', 'billing refused obsA', 'nurse reads B'],
      ],
      ['a patient', `patient=PATIENT_A&${window}`, ['create A', 'create obsA', 'nurse reads A', 'doctor searches obsA']],
      ['an agent', `agent=Practitioner/nurse-b`, ['nurse reads A', 'nurse reads B']],
      ['an action', `action=read&${window}`, ['nurse reads A', 'billing refused obsA', 'nurse reads B', 'doctor reads B']],
      ['an outcome', `outcome=4&${window}`, ['billing refused obsA', 'anonymous refused']],
      ['an outcome label', `outcome=failure&${window}`, ['billing refused obsA', 'anonymous refused']],
      ['an entity', 'entity=Patient/PATIENT_B', ['create B', 'nurse reads B', 'doctor reads B']],
      ['an entity returned by a search', 'entity=Observation/OBS_A', ['create obsA', 'doctor searches obsA']],
      ['two patients (OR)', `patient=PATIENT_A,PATIENT_B&action=read&${window}`, ['nurse reads A', 'nurse reads B', 'doctor reads B']],
      ['an AuditEvent action code', `action=C&${window}`, ['create A', 'create B', 'create obsA']],
      ['criteria combined (AND)', `agent=Practitioner/doc-a&patient=PATIENT_B`, ['create B', 'doctor reads B']],
    ];
    it.each(cases)('by %s', async (_label, query, expected) => {
      const q = query.replaceAll('PATIENT_A', pA).replaceAll('PATIENT_B', pB).replaceAll('OBS_A', obsA);
      const res = await auditor.get(`AuditEvent?${q}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
      expect(idsOf(res.body)).toEqual(seqs(...expected));
      for (const e of res.body.entry) expect(errorsOf(e.resource)).toEqual([]);
    });
  });

  describe('170.315(d)(3): audit reports for a time range, sortable by every field', () => {
    const window = `date=ge${DAY}T09:00:00Z&date=lt${DAY}T14:00:00Z`;
    const everyScripted = () => [...script.values()];

    it('170.315(d)(3): from/to returns only entries inside the range', async () => {
      const from = `${DAY}T10:00:00Z`;
      const to = `${DAY}T11:59:59Z`;
      const res = await auditor.get(`AuditEvent?date=ge${from}&date=le${to}`);
      const inside = everyScripted().filter((e) => e.time >= '2024-03-04T10:00:00.000Z' && e.time < '2024-03-04T12:00:00.000Z');
      expect(idsOf(res.body)).toEqual(inside.map((e) => e.seq));
      expect(inside.length).toBe(4);
      const exported = await auditor.get(`/admin/audit/export?from=${from}&to=${to}&format=bundle`);
      expect(exported.body.entry.map((e: any) => Number(e.resource.id))).toEqual(inside.map((e) => e.seq));
    });

    const keys: [string, (e: ReturnType<typeof everyScripted>[number]) => string | null][] = [
      ['date', (e) => e.time],
      ['agent', (e) => e.principal],
      ['patient', (e) => e.patient],
      ['action', (e) => e.action],
      ['outcome', (e) => e.outcome],
    ];
    for (const [key, value] of keys) {
      for (const descending of [false, true]) {
        it(`170.315(d)(3): sorts by ${descending ? '-' : ''}${key}`, async () => {
          const res = await auditor.get(`AuditEvent?${window}&_sort=${descending ? '-' : ''}${key}`);
          expect(res.status).toBe(200);
          // PostgreSQL order: byte order, NULLs last ascending and first descending, ties by sequence number.
          const compare = (a: ReturnType<typeof everyScripted>[number], b: ReturnType<typeof everyScripted>[number]) => {
            const [x, y] = [value(a), value(b)];
            if (x !== y) {
              if (x === null) return 1;
              if (y === null) return -1;
              return x < y ? -1 : 1;
            }
            return a.seq - b.seq;
          };
          const expected = everyScripted().sort(compare);
          if (descending) expected.reverse();
          expect(idsOf(res.body)).toEqual(expected.map((e) => e.seq));
          const values = idsOf(res.body).map((seq) => value(everyScripted().find((e) => e.seq === seq) as never));
          expect(new Set(values).size, `${key} has more than one value in the script`).toBeGreaterThan(1);
        });
      }
    }

    it('170.315(d)(3): sorts by several keys', async () => {
      const res = await auditor.get(`AuditEvent?${window}&_sort=agent,-date`);
      const expected = everyScripted().sort((a, b) =>
        a.principal === b.principal ? (a.time < b.time ? 1 : -1) : a.principal < b.principal ? -1 : 1,
      );
      expect(idsOf(res.body)).toEqual(expected.map((e) => e.seq));
    });

    it('170.315(d)(3): the export is a FHIR AuditEvent Bundle, also NDJSON and CSV, and the export is audited', async () => {
      const query = `from=${DAY}T09:00:00Z&to=${DAY}T13:59:59.999Z`;
      const expected = everyScripted().map((e) => e.seq);
      const before = await lastAuditSeq(t.ward);

      const bundle = await auditor.get(`/admin/audit/export?${query}&format=bundle`);
      expect(bundle.status).toBe(200);
      expect(String(bundle.headers['content-type'])).toMatch(/^application\/fhir\+json/);
      expect(bundle.body).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
      expect(bundle.body.entry.map((e: any) => Number(e.resource.id))).toEqual(expected);
      for (const e of bundle.body.entry) {
        expect(e.fullUrl).toBe(`https://ward.test/fhir/AuditEvent/${e.resource.id}`);
        expect(errorsOf(e.resource)).toEqual([]);
      }

      const ndjson = await auditor.get(`/admin/audit/export?${query}&format=ndjson`);
      expect(String(ndjson.headers['content-type'])).toMatch(/^application\/fhir\+ndjson/);
      const lines = ndjson.raw.body
        .trimEnd()
        .split('\n')
        .map((l: string) => JSON.parse(l));
      expect(lines.map((l: any) => Number(l.id))).toEqual(expected);
      expect(lines.every((l: any) => l.resourceType === 'AuditEvent')).toBe(true);

      const csv = await auditor.get(`/admin/audit/export?${query}&format=csv`);
      expect(String(csv.headers['content-type'])).toMatch(/^text\/csv/);
      const [header, ...rows] = csv.raw.body.trimEnd().split('\r\n');
      expect(header).toBe(
        'seq,time,principal,roles,client,action,outcome,status,code,patient,resource_type,resource_id,address,purpose_of_use',
      );
      expect(rows.map((r: string) => Number(r.split(',')[0]))).toEqual(expected);
      const nurseRead = rows.find((r: string) => r.startsWith(`${script.get('nurse reads A')?.seq},`));
      expect(nurseRead).toBe(
        `${script.get('nurse reads A')?.seq},${DAY}T10:00:00.000Z,Practitioner/nurse-b,nurse,ward-cli,read,success,200,,${pA},Patient,${pA},127.0.0.1,TREAT`,
      );

      const entries = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
      expect(entries.map((e) => [e.who.id, e.action, e.resourceType, e.detail?.format, e.outcome.status])).toEqual([
        ['Practitioner/aud-1', 'audit-export', 'AuditEvent', 'bundle', 200],
        ['Practitioner/aud-1', 'audit-export', 'AuditEvent', 'ndjson', 200],
        ['Practitioner/aud-1', 'audit-export', 'AuditEvent', 'csv', 200],
      ]);
    });
  });

  it('pages with next links over a snapshot: entries appended meanwhile do not shift the pages', async () => {
    const window = `date=ge${DAY}T09:00:00Z&date=lt${DAY}T14:00:00Z`;
    const first = await auditor.get(`AuditEvent?${window}&_count=2`);
    expect(idsOf(first.body)).toHaveLength(2);
    const next = first.body.link.find((l: any) => l.relation === 'next')?.url as string;
    expect(next).toMatch(/_page=\d+\.2/);
    // An entry inside the window, appended after the first page was read.
    t.setNow(at('10:15:00'));
    await nurse.get(`Patient/${pA}`);
    t.setNow(at('14:00:00'));
    const rest = await allPages(auditor, next);
    expect([...idsOf(first.body), ...rest.ids]).toEqual([...script.values()].map((e) => e.seq));
    expect(rest.pages).toBe(4);
  });

  it('reads one AuditEvent by id, audits the read, and answers 404 for an unknown id', async () => {
    const seq = script.get('nurse reads A')?.seq as number;
    const before = await lastAuditSeq(t.ward);
    const res = await officer.get(`AuditEvent/${seq}`);
    expect(res.status).toBe(200);
    expect(errorsOf(res.body)).toEqual([]);
    expect(res.body).toMatchObject({
      resourceType: 'AuditEvent',
      id: String(seq),
      action: 'R',
      recorded: `${DAY}T10:00:00.000Z`,
      outcome: '0',
    });
    expect(res.body.agent[0]).toMatchObject({
      who: { reference: 'Practitioner/nurse-b' },
      requestor: true,
      network: { address: '127.0.0.1' },
    });
    const [entry] = (await auditRowsAfter(t.ward, before)).map((r) => r.parsed);
    expect(entry).toMatchObject({ action: 'read', resourceType: 'AuditEvent', resourceId: String(seq), who: { id: 'Practitioner/po-1' } });
    expect((await officer.get('AuditEvent/99999999')).status).toBe(404);
    expect((await officer.get('AuditEvent/not-a-number')).status).toBe(404);
  });

  it('refuses unknown search parameters with 400 and an OperationOutcome', async () => {
    for (const query of ['name=Alpha', '_sort=address', 'date=ne2024', '_summary=true']) {
      const res = await auditor.get(`AuditEvent?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });

  describe('170.315(d)(2)(iv): the application cannot change, overwrite or delete audit records', () => {
    const attempts: [string, (c: FhirClient, id: string) => Promise<Call>][] = [
      ['PUT AuditEvent/{id}', (c, id) => c.put(`AuditEvent/${id}`, { resourceType: 'AuditEvent', id })],
      ['DELETE AuditEvent/{id}', (c, id) => c.delete(`AuditEvent/${id}`)],
      ['PATCH AuditEvent/{id}', (c, id) => c.patch(`AuditEvent/${id}`, [{ op: 'replace', path: '/outcome', value: '0' }])],
      ['POST AuditEvent', (c) => c.post('AuditEvent', { resourceType: 'AuditEvent' })],
      ['conditional PUT AuditEvent', (c) => c.put('AuditEvent?_id=1', { resourceType: 'AuditEvent' })],
      ['conditional DELETE AuditEvent', (c) => c.delete('AuditEvent?_id=1')],
      ['GET AuditEvent/_history', (c) => c.get('AuditEvent/_history')],
      ['GET AuditEvent/{id}/_history/1', (c, id) => c.get(`AuditEvent/${id}/_history/1`)],
    ];
    it.each(attempts)(
      '170.315(d)(2)(iv): %s answers 405 with an OperationOutcome, is audited, and changes nothing',
      async (label, attempt) => {
        const target = String(script.get('billing refused obsA')?.seq);
        const original = (await officer.get(`AuditEvent/${target}`)).body;
        for (const client of [officer, doctor]) {
          const before = await lastAuditSeq(t.ward);
          const res = await attempt(client, target);
          expect(res.status, label).toBe(405);
          expect(res.body.resourceType).toBe('OperationOutcome');
          expect(res.body.issue[0].details.coding[0].code).toBe('WARD_METHOD_NOT_ALLOWED');
          expect(res.headers.allow).toBe('GET');
          const rows = await auditRowsAfter(t.ward, before);
          expect(rows).toHaveLength(1);
          expect(rows[0]?.parsed).toMatchObject({ action: 'request', resourceType: 'AuditEvent', outcome: { status: 405 } });
        }
        expect((await officer.get(`AuditEvent/${target}`)).body).toEqual(original);
        const stored = await t.ward.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ward_resource WHERE resource_type = 'AuditEvent'`);
        expect(Number(stored.rows[0]?.n)).toBe(0);
      },
    );
  });

  it('170.315(d)(2)(iv): the vault itself refuses to store, read or search AuditEvent as a resource, whatever the role', async () => {
    for (const roles of [['privacy-officer'], ['system'], ['physician']]) {
      const minted = await t.ward.tokens.mint({ sub: 'system', roles, scope: 'system/*.cruds', ttlSeconds: 600, clientId: 'ward-test' });
      const principal = await t.ward.tokens.verify(minted.token);
      const ctx = () => ({ requestId: 'vault-direct', listener: 'cli' as const, audited: false });
      await expect(t.ward.vault.create(principal, ctx(), 'AuditEvent', { resourceType: 'AuditEvent' })).rejects.toMatchObject({
        code: 'WARD_METHOD_NOT_ALLOWED',
      });
      await expect(t.ward.vault.read(principal, ctx(), 'AuditEvent', '1')).rejects.toMatchObject({ code: 'WARD_METHOD_NOT_ALLOWED' });
      await expect(
        t.ward.vault.search(
          principal,
          ctx(),
          'AuditEvent',
          parseSearch('AuditEvent', new URLSearchParams(), { lenient: false, now: new Date() }),
          {
            pageSize: 10,
          },
        ),
      ).rejects.toMatchObject({
        code: 'WARD_METHOD_NOT_ALLOWED',
      });
    }
  });

  describe('only the privacy officer and the auditor reach the log', () => {
    const uses: [string, (c: FhirClient) => Promise<Call>][] = [
      ['AuditEvent search', (c) => c.get('AuditEvent')],
      ['AuditEvent read', (c) => c.get('AuditEvent/1')],
      ['export', (c) => c.get('/admin/audit/export?format=csv')],
      ['accounting of disclosures', (c) => c.get(`/admin/audit/disclosures?patient=${pA}`)],
      ['access report', (c) => c.get('/admin/audit/access-report?principal=Practitioner/nurse-b')],
      ['failures report', (c) => c.get('/admin/audit/failures')],
    ];
    it.each(uses)('a physician (a * grant) gets 403 for the %s, and the denial is audited', async (_label, use) => {
      const before = await lastAuditSeq(t.ward);
      const res = await use(doctor);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
      const rows = await auditRowsAfter(t.ward, before);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.parsed).toMatchObject({
        who: { id: 'Practitioner/doc-a' },
        resourceType: 'AuditEvent',
        decision: { effect: 'deny' },
        outcome: { status: 403, code: 'WARD_POLICY_DENIED' },
      });
      // A refusal reveals nothing: not even whether the patient exists.
      expect(rows[0]?.patientId).toBeNull();
    });

    it('a billing clerk and a patient get 403 too', async () => {
      const own = fhirClient(t, await t.token({ role: 'patient', sub: `Patient/${pA}`, scope: 'patient/*.rs', ttl: '1h' }));
      for (const client of [billing, own]) expect((await client.get(`AuditEvent?patient=${pA}`)).status).toBe(403);
    });

    it('the privacy officer and the auditor search, and their own searches are audited with what they saw', async () => {
      for (const [client, who] of [
        [officer, 'Practitioner/po-1'],
        [auditor, 'Practitioner/aud-1'],
      ] as const) {
        const before = await lastAuditSeq(t.ward);
        const res = await client.get('AuditEvent?agent=Practitioner/nurse-b&_count=1');
        expect(res.status).toBe(200);
        const [row] = await auditRowsAfter(t.ward, before);
        expect(row?.parsed).toMatchObject({
          who: { id: who },
          action: 'search',
          resourceType: 'AuditEvent',
          returned: [`AuditEvent/${idsOf(res.body)[0]}`],
          detail: { parameters: '_count agent' },
          decision: { effect: 'permit' },
        });
      }
    });
  });

  it('the CapabilityStatement lists AuditEvent with read and search only', async () => {
    const statement = (await fhirClient(t).get('metadata')).body;
    const auditEvent = statement.rest[0].resource.find((r: any) => r.type === 'AuditEvent');
    expect(auditEvent.interaction.map((i: any) => i.code)).toEqual(['read', 'search-type']);
    expect(auditEvent.searchParam.map((p: any) => p.name).sort()).toEqual(['action', 'agent', 'date', 'entity', 'outcome', 'patient']);
    expect(auditEvent.conditionalCreate).toBe(false);
  });
});
