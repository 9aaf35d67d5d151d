import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';

/** The day the privacy officer runs the reports; six years back is 2019-06-15T12:00Z. */
const NOW = new Date('2025-06-15T12:00:00.000Z');

/** The clinic's patients; its physicians reach them as members of the managing organization's unit (ADR 0009). */
const CLINIC = 'Organization/clinic';
const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family }],
  gender: 'unknown',
  managingOrganization: { reference: CLINIC },
});
const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { text: 'hemoglobin' },
  subject: { reference: `Patient/${patientId}` },
});

describe.each(engines())('audit reports on %s', (engine) => {
  let t: TestWard;
  let A: string;
  let B: string;
  let C: string;
  let obsA: string;
  let obsB: string;
  let officer: FhirClient;
  /** Sequence numbers of the entries the scenario expects in the reports, by label. */
  const seqOf = new Map<string, number>();

  /** A client whose token is minted at the current (fake) time, for any principal, client and purpose of use. */
  async function as(o: {
    sub: string;
    roles: string[];
    scope: string;
    clientId?: string;
    purposeOfUse?: string;
    patient?: string;
    organizations?: string[];
  }) {
    const minted = await t.ward.tokens.mint({ clientId: 'ward-web', ttlSeconds: 3600, ...o });
    return fhirClient(t, minted.token);
  }

  /** Runs one request at a given time and remembers the sequence number of its one entry. */
  async function at(time: string, label: string, send: () => Promise<Call>): Promise<Call> {
    t.setNow(new Date(time));
    const before = await lastAuditSeq(t.ward);
    const res = await send();
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows, label).toHaveLength(1);
    seqOf.set(label, rows[0]?.seq as number);
    return res;
  }
  const researcher = () =>
    as({
      sub: 'Practitioner/researcher-1',
      roles: ['physician'],
      scope: 'user/*.rs',
      clientId: 'study-app',
      purposeOfUse: 'HRESCH',
      organizations: [CLINIC],
    });
  const publicHealth = () =>
    as({ sub: 'system', roles: ['system'], scope: 'system/*.rs', clientId: 'state-registry', purposeOfUse: 'PUBHLTH' });
  const recorder = async () => {
    officer = await as({ sub: 'Practitioner/po-1', roles: ['privacy-officer'], scope: 'user/AuditEvent.crs user/Patient.rs' });
    return officer;
  };
  const disclosure = (o: Record<string, unknown>) => ({
    date: '2025-05-30',
    recipient: { name: 'County Health Department', address: '1 Main St, Springfield' },
    description: 'immunization record',
    purpose: 'PUBHLTH',
    ...o,
  });

  beforeAll(async () => {
    t = await openTestWard(engine);
    t.setNow(new Date('2017-01-01T08:00:00Z'));
    const doctor = await as({ sub: 'Practitioner/doc-1', roles: ['physician'], scope: 'user/*.cruds', organizations: [CLINIC] });
    A = (await doctor.post('Patient', patient('Alpha'))).body.id;
    B = (await doctor.post('Patient', patient('Bravo'))).body.id;
    C = (await doctor.post('Patient', patient('Charlie'))).body.id;
    obsA = (await doctor.post('Observation', observation(A))).body.id;
    obsB = (await doctor.post('Observation', observation(B))).body.id;

    await at('2018-01-10T10:00:00Z', 'research read older than six years', async () => (await researcher()).get(`Observation/${obsA}`));
    await at('2020-02-01T09:00:00Z', 'public health search of A and B', async () =>
      (await publicHealth()).get(`Observation?_id=${obsA},${obsB}`),
    );
    await at('2023-05-05T10:00:00Z', 'treatment read', async () =>
      (await as({ sub: 'Practitioner/doc-1', roles: ['physician'], scope: 'user/*.rs', organizations: [CLINIC] })).get(`Patient/${A}`),
    );
    await at('2023-06-06T10:00:00Z', 'payment read', async () =>
      (await as({ sub: 'Practitioner/billing-1', roles: ['billing'], scope: 'user/*.rs', purposeOfUse: 'HPAYMT' })).get(`Patient/${A}`),
    );
    await at('2024-01-01T10:00:00Z', "the patient's own read", async () =>
      (await as({ sub: `Patient/${A}`, roles: ['patient'], scope: 'patient/*.rs', purposeOfUse: 'PATRQT' })).get(`Observation/${obsA}`),
    );
    await at('2024-03-03T15:00:00Z', 'research read', async () => (await researcher()).get(`Observation/${obsA}`));
    await at('2024-03-04T15:00:00Z', 'research read refused', async () =>
      (
        await as({
          sub: 'Practitioner/researcher-1',
          roles: ['physician'],
          scope: 'patient/*.rs',
          patient: B,
          clientId: 'study-app',
          purposeOfUse: 'HRESCH',
          organizations: [CLINIC],
        })
      ).get(`Observation/${obsA}`),
    );
    await at('2024-05-05T15:00:00Z', 'anonymous refused', async () => fhirClient(t).get(`Patient/${A}`));
    await at('2025-06-01T10:00:00Z', 'recorded disclosure', async () =>
      (await recorder()).post('/admin/audit/disclosures', disclosure({ patient: A })),
    );
    await at('2025-06-02T10:00:00Z', 'recorded disclosure older than six years', async () =>
      (await recorder()).post('/admin/audit/disclosures', disclosure({ patient: `Patient/${A}`, date: '2017-03-01' })),
    );
    await at('2025-06-03T10:00:00Z', 'recorded disclosure of B', async () =>
      (await recorder()).post(
        '/admin/audit/disclosures',
        disclosure({
          patient: B,
          date: '2025-01-15',
          recipient: { name: 'State Cancer Registry' },
          description: 'tumor registry abstract',
        }),
      ),
    );
    t.setNow(NOW);
    officer = await recorder();
  });
  afterAll(async () => t?.close());

  describe('164.528 · 170.315(d)(11) · 170.210(d): accounting of disclosures', () => {
    it('164.528 · 170.315(d)(11) · 170.210(d): lists exactly the non-TPO disclosures of the last six years, with date, recipient, what and why', async () => {
      const res = await officer.get(`/admin/audit/disclosures?patient=${A}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        patient: A,
        window: { from: '2019-06-15T12:00:00.000Z', to: NOW.toISOString() },
        disclosures: [
          {
            date: '2020-02-01T09:00:00.000Z',
            recipient: { name: 'system', client: 'state-registry' },
            description: 'search of Observation: 2 resource(s) returned',
            purpose: { code: 'PUBHLTH', display: 'public health' },
            source: 'access',
            auditEvent: `AuditEvent/${seqOf.get('public health search of A and B')}`,
          },
          {
            date: '2024-03-03T15:00:00.000Z',
            recipient: { name: 'Practitioner/researcher-1', client: 'study-app' },
            description: `read of Observation/${obsA}`,
            purpose: { code: 'HRESCH', display: 'healthcare research' },
            source: 'access',
            auditEvent: `AuditEvent/${seqOf.get('research read')}`,
          },
          {
            date: '2025-05-30',
            recipient: { name: 'County Health Department', address: '1 Main St, Springfield' },
            description: 'immunization record',
            purpose: { code: 'PUBHLTH', display: 'public health' },
            source: 'recorded',
            auditEvent: `AuditEvent/${seqOf.get('recorded disclosure')}`,
            recordedBy: 'Practitioner/po-1',
          },
        ],
      });
    });

    it('164.528 · 170.315(d)(11) · 170.210(d): each patient sees only their own disclosures', async () => {
      const b = (await officer.get(`/admin/audit/disclosures?patient=Patient/${B}`)).body;
      expect(b.disclosures.map((d: any) => [d.date, d.recipient.name, d.description])).toEqual([
        ['2020-02-01T09:00:00.000Z', 'system', 'search of Observation: 2 resource(s) returned'],
        ['2025-01-15', 'State Cancer Registry', 'tumor registry abstract'],
      ]);
      expect((await officer.get(`/admin/audit/disclosures?patient=${C}`)).body.disclosures).toEqual([]);
    });

    it('164.528 · 170.315(d)(11) · 170.210(d): never reaches back more than six years, and honours a narrower window', async () => {
      const wide = (await officer.get(`/admin/audit/disclosures?patient=${A}&from=2010-01-01`)).body;
      expect(wide.window.from).toBe('2019-06-15T12:00:00.000Z');
      expect(wide.disclosures).toHaveLength(3);
      const narrow = (await officer.get(`/admin/audit/disclosures?patient=${A}&from=2024-01-01&to=2024-12-31`)).body;
      expect(narrow.window).toEqual({ from: '2024-01-01T00:00:00.000Z', to: '2024-12-31T23:59:59.999Z' });
      expect(narrow.disclosures.map((d: any) => d.auditEvent)).toEqual([`AuditEvent/${seqOf.get('research read')}`]);
    });

    it('164.528: the accounting is itself audited, against the patient', async () => {
      const before = await lastAuditSeq(t.ward);
      await officer.get(`/admin/audit/disclosures?patient=${A}`);
      const [row] = await auditRowsAfter(t.ward, before);
      expect(row?.patientId).toBe(A);
      expect(row?.parsed).toMatchObject({
        who: { id: 'Practitioner/po-1' },
        action: 'audit-report',
        resourceType: 'AuditEvent',
        detail: { report: 'disclosures', listed: '3' },
        outcome: { status: 200 },
      });
    });

    it('164.528: a recorded disclosure is an audit entry of its own, visible as an AuditEvent', async () => {
      const seq = seqOf.get('recorded disclosure') as number;
      const [row] = (await auditRowsAfter(t.ward, seq - 1)).filter((r) => r.seq === seq);
      expect(row?.parsed).toMatchObject({
        action: 'disclose',
        resourceType: 'Patient',
        resourceId: A,
        patientId: A,
        purposeOfUse: 'PUBHLTH',
        outcome: { status: 201 },
        detail: { disclosedAt: '2025-05-30', recipientName: 'County Health Department', description: 'immunization record' },
      });
      const found = await officer.get(`AuditEvent?action=disclose&patient=${A}`);
      expect(found.body.entry.map((e: any) => e.resource.period.start)).toEqual(['2025-05-30', '2017-03-01']);
    });

    it('164.528: refuses a recorded disclosure with clinical-length text, a TPO purpose or an unknown patient, and audits each refusal', async () => {
      const auditorRole = await as({ sub: 'Practitioner/aud-1', roles: ['auditor'], scope: 'user/AuditEvent.rs' });
      const attempts: [FhirClient, unknown, number][] = [
        [officer, disclosure({ patient: A, description: 'x'.repeat(201) }), 400],
        [officer, disclosure({ patient: A, purpose: 'TREAT' }), 400],
        [officer, disclosure({ patient: A, purpose: 'PATRQT' }), 400],
        [officer, disclosure({ patient: 'no-such-patient' }), 422],
        [officer, disclosure({ patient: A, date: '2025-06-16' }), 400],
        [auditorRole, disclosure({ patient: A }), 403],
      ];
      for (const [client, body, status] of attempts) {
        const before = await lastAuditSeq(t.ward);
        const res = await client.post('/admin/audit/disclosures', body);
        expect(res.status).toBe(status);
        expect(res.body.resourceType).toBe('OperationOutcome');
        expect(res.raw.body).not.toContain('xxxxxxxx');
        const rows = await auditRowsAfter(t.ward, before);
        expect(rows).toHaveLength(1);
        expect(rows[0]?.parsed).toMatchObject({ action: 'disclose', outcome: { status } });
        expect(rows[0]?.parsed.detail).toBeUndefined();
      }
    });

    it('answers 404 for a patient that does not exist, and 400 without one', async () => {
      expect((await officer.get('/admin/audit/disclosures?patient=no-such-patient')).status).toBe(404);
      expect((await officer.get('/admin/audit/disclosures')).status).toBe(400);
      expect((await officer.get(`/admin/audit/disclosures?patient=${A}&format=csv`)).status).toBe(400);
    });
    it('164.528: a token minted with ward token create --purpose-of-use acts under that purpose, and its reads are accounted', async () => {
      t.setNow(NOW);
      const token = await t.token({
        role: 'physician',
        sub: 'Practitioner/epi-1',
        scope: 'user/*.rs',
        purposeOfUse: 'PUBHLTH',
        organization: CLINIC,
      });
      const before = await lastAuditSeq(t.ward);
      expect((await fhirClient(t, token).get(`Patient/${C}`)).status).toBe(200);
      const [row] = await auditRowsAfter(t.ward, before);
      expect(row?.parsed.purposeOfUse).toBe('PUBHLTH');
      const c = (await officer.get(`/admin/audit/disclosures?patient=${C}`)).body;
      expect(c.disclosures.map((d: any) => [d.recipient.name, d.purpose.code, d.description])).toEqual([
        ['Practitioner/epi-1', 'PUBHLTH', `read of Patient/${C}`],
      ]);
      await expect(
        t.token({ role: 'physician', sub: 'Practitioner/epi-1', scope: 'user/*.rs', purposeOfUse: 'public health' }),
      ).rejects.toThrow(/purpose-of-use/);
    });
  });

  describe('164.308(a)(1)(ii)(D) · 164.308(a)(5)(ii)(C): access and failure reports', () => {
    it('164.308(a)(1)(ii)(D): the access report counts one user’s entries per action and lists the patients and resources reached', async () => {
      const res = await officer.get('/admin/audit/access-report?principal=Practitioner/researcher-1&from=2018-01-01&to=2025-06-14');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        principal: 'Practitioner/researcher-1',
        window: { from: '2018-01-01T00:00:00.000Z', to: '2025-06-14T23:59:59.999Z' },
        actions: [{ action: 'read', success: 2, failure: 1, error: 0, total: 3 }],
        patients: { ids: [A], truncated: false },
        resources: { ids: [`Observation/${obsA}`], truncated: false },
      });
      const system = (await officer.get('/admin/audit/access-report?principal=system&from=2020-01-01&to=2020-12-31')).body;
      expect(system.patients.ids).toEqual([A, B].sort());
      expect(system.resources.ids).toEqual([`Observation/${obsA}`, `Observation/${obsB}`].sort());
    });

    it('164.308(a)(5)(ii)(C): the failures report lists failed attempts per user for a period, with their source addresses', async () => {
      const res = await officer.get('/admin/audit/failures?from=2024-01-01&to=2025-06-14');
      expect(res.status).toBe(200);
      expect(res.body.window).toEqual({ from: '2024-01-01T00:00:00.000Z', to: '2025-06-14T23:59:59.999Z' });
      expect(res.body.principals).toEqual([
        {
          principal: 'Practitioner/researcher-1',
          total: 1,
          first: '2024-03-04T15:00:00.000Z',
          last: '2024-03-04T15:00:00.000Z',
          addresses: ['127.0.0.1'],
          byOutcome: [{ status: 404, code: 'WARD_NOT_FOUND', count: 1 }],
        },
        {
          principal: 'anonymous',
          total: 1,
          first: '2024-05-05T15:00:00.000Z',
          last: '2024-05-05T15:00:00.000Z',
          addresses: ['127.0.0.1'],
          byOutcome: [{ status: 401, code: 'WARD_UNAUTHENTICATED', count: 1 }],
        },
      ]);
    });

    it('reads the last 30 days when no window is given, and refuses an unknown parameter', async () => {
      const recent = (await officer.get('/admin/audit/failures')).body;
      expect(recent.window.from).toBe('2025-05-16T12:00:00.000Z');
      expect((await officer.get('/admin/audit/access-report?principal=system&patient=x')).status).toBe(400);
      expect((await officer.get('/admin/audit/access-report')).status).toBe(400);
    });
  });
});
