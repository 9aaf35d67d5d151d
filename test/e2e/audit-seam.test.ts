import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type Call, type FhirClient, fhirClient } from '../support/fhir-client.js';
import { asOwner } from '../support/owner-sql.js';

/** Marks an expected resource id that must appear only as a keyed hash. */
const KEYED_HASH = '(keyed hash)';

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DOCTOR = 'Practitioner/doc-audit';
const BILLER = 'Practitioner/billing-audit';
/** The doctor reaches the patients it registers as a member of their managing organization's unit (ADR 0009). */
const UNIT = 'Organization/ward-unit';

const patient = (family: string) => ({
  resourceType: 'Patient',
  name: [{ family, given: ['Robin'] }],
  gender: 'female',
  birthDate: '1971-02-03',
  identifier: [{ system: 'urn:oid:1.2.36.146.595.217.0.1', value: `MRN-${family}` }],
  managingOrganization: { reference: UNIT },
});

interface Expected {
  readonly principal: string;
  readonly action: string;
  readonly status: number;
  readonly effect: 'permit' | 'deny' | 'none';
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly patientId?: string;
  readonly returned?: string[];
}

interface SeamCase {
  readonly name: string;
  /** Arranges what the request needs (its own requests are not counted), then sends the one request under test. */
  readonly run: (act: (send: () => Promise<Call>) => Promise<Call>) => Promise<{ res: Call; expected: Expected }>;
}

async function count(t: TestWard, table: string): Promise<number> {
  const { rows } = await t.ward.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

async function auditDigest(t: TestWard): Promise<string> {
  const { rows } = await t.ward.db.query<{ seq: unknown; entry: string }>('SELECT seq, entry FROM ward_audit_entry ORDER BY seq');
  return createHash('sha256')
    .update(rows.map((r) => `${String(r.seq)}:${r.entry}`).join('\n'))
    .digest('hex');
}

describe.each(engines())('the audit seam on %s', (engine) => {
  let t: TestWard;
  let doctor: FhirClient;
  let billing: FhirClient;
  let anonymous: FhirClient;

  beforeAll(async () => {
    t = await openTestWard(engine);
    doctor = fhirClient(t, await t.token({ role: 'physician', sub: DOCTOR, scope: 'user/*.cruds', organization: UNIT }));
    billing = fhirClient(t, await t.token({ role: 'billing', sub: BILLER, scope: 'user/*.cruds' }));
    anonymous = fhirClient(t);
  });
  afterAll(async () => t.close());

  /** Sends one request and returns it with the audit rows it added. */
  async function audited(run: () => Promise<Call>) {
    const before = await lastAuditSeq(t.ward);
    const res = await run();
    return { res, rows: await auditRowsAfter(t.ward, before) };
  }

  describe('164.312(b) · 170.315(d)(2)(i)(A) · (d)(10): every interaction and every refusal gives exactly one complete entry', () => {
    let pid: string;
    let obsId: string;
    const requestIds = new Set<string>();

    beforeAll(async () => {
      pid = (await doctor.post('Patient', patient('Seam'))).body.id;
      obsId = (
        await doctor.post('Observation', {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'heart rate' },
          subject: { reference: `Patient/${pid}` },
        })
      ).body.id;
    });

    const doctorExpects = (e: Omit<Expected, 'principal' | 'effect'> & { effect?: Expected['effect'] }): Expected => ({
      principal: DOCTOR,
      effect: 'permit',
      ...e,
    });

    const cases: SeamCase[] = [
      {
        name: 'create',
        run: async () => {
          const res = await doctor.post('Patient', patient('Created'));
          return {
            res,
            expected: doctorExpects({
              action: 'create',
              status: 201,
              resourceType: 'Patient',
              resourceId: res.body.id,
              patientId: res.body.id,
            }),
          };
        },
      },
      {
        name: 'read',
        run: async () => ({
          res: await doctor.get(`Patient/${pid}`),
          expected: doctorExpects({ action: 'read', status: 200, resourceType: 'Patient', resourceId: pid, patientId: pid }),
        }),
      },
      {
        name: 'read of a resource in the patient compartment',
        run: async () => ({
          res: await doctor.get(`Observation/${obsId}`),
          expected: doctorExpects({ action: 'read', status: 200, resourceType: 'Observation', resourceId: obsId, patientId: pid }),
        }),
      },
      {
        name: 'vread',
        run: async () => ({
          res: await doctor.get(`Patient/${pid}/_history/1`),
          expected: doctorExpects({ action: 'vread', status: 200, resourceType: 'Patient', resourceId: pid, patientId: pid }),
        }),
      },
      {
        name: 'update',
        run: async (act) => {
          const current = (await doctor.get(`Patient/${pid}`)).body;
          return {
            res: await act(() => doctor.put(`Patient/${pid}`, { ...current, gender: 'other' })),
            expected: doctorExpects({ action: 'update', status: 200, resourceType: 'Patient', resourceId: pid, patientId: pid }),
          };
        },
      },
      {
        name: 'patch',
        run: async () => ({
          res: await doctor.patch(`Patient/${pid}`, [{ op: 'replace', path: '/gender', value: 'male' }]),
          expected: doctorExpects({ action: 'patch', status: 200, resourceType: 'Patient', resourceId: pid, patientId: pid }),
        }),
      },
      {
        name: 'delete',
        run: async (act) => {
          const doomed = (await doctor.post('Patient', patient('Doomed'))).body.id;
          return {
            res: await act(() => doctor.delete(`Patient/${doomed}`)),
            expected: doctorExpects({ action: 'delete', status: 200, resourceType: 'Patient', resourceId: doomed, patientId: doomed }),
          };
        },
      },
      {
        name: 'history',
        run: async () => ({
          res: await doctor.get(`Patient/${pid}/_history`),
          expected: doctorExpects({
            action: 'history',
            status: 200,
            resourceType: 'Patient',
            resourceId: pid,
            patientId: pid,
            returned: [3, 2, 1].map((v) => `Patient/${pid}/_history/${v}`),
          }),
        }),
      },
      {
        name: 'search',
        run: async () => ({
          res: await doctor.get(`Patient?_id=${pid}`),
          expected: doctorExpects({ action: 'search', status: 200, resourceType: 'Patient', patientId: pid, returned: [`Patient/${pid}`] }),
        }),
      },
      {
        name: '401 (no credentials)',
        run: async () => ({
          res: await anonymous.get(`Patient/${pid}`),
          expected: {
            principal: 'anonymous',
            action: 'request',
            status: 401,
            effect: 'none',
            resourceType: 'Patient',
            resourceId: KEYED_HASH,
          },
        }),
      },
      {
        name: '403 (billing reads an Observation)',
        run: async () => ({
          res: await billing.get(`Observation/${obsId}`),
          expected: { principal: BILLER, action: 'read', status: 403, effect: 'deny', resourceType: 'Observation', resourceId: KEYED_HASH },
        }),
      },
      {
        name: '404 (missing id)',
        run: async () => ({
          res: await doctor.get('Patient/no-such-patient'),
          expected: doctorExpects({ action: 'read', status: 404, resourceType: 'Patient', resourceId: KEYED_HASH }),
        }),
      },
      {
        name: '400 (invalid resource)',
        run: async () => ({
          res: await doctor.post('Patient', { ...patient('Invalid'), gender: 'robot' }),
          expected: doctorExpects({ action: 'create', status: 400, resourceType: 'Patient' }),
        }),
      },
      {
        name: '413 (body over the limit)',
        run: async () => {
          const huge = { ...patient('Huge'), text: { status: 'generated', div: `<div>${'x'.repeat(t.config.bodyLimitBytes)}</div>` } };
          return {
            res: await doctor.post('Patient', huge),
            expected: doctorExpects({ action: 'request', status: 413, effect: 'none', resourceType: 'Patient' }),
          };
        },
      },
      {
        name: '415 (unsupported media type)',
        run: async () => ({
          res: await doctor.post('Patient', '<Patient xmlns="http://hl7.org/fhir"/>', { 'content-type': 'application/fhir+xml' }),
          expected: doctorExpects({ action: 'request', status: 415, effect: 'none', resourceType: 'Patient' }),
        }),
      },
      {
        name: 'unknown route',
        run: async () => ({
          res: await doctor.get('/no/such/route'),
          expected: doctorExpects({ action: 'request', status: 404, effect: 'none' }),
        }),
      },
    ];

    it.each(cases)('$name', async ({ run }) => {
      let before = await lastAuditSeq(t.ward);
      const { res, expected } = await run(async (send) => {
        before = await lastAuditSeq(t.ward);
        return send();
      });
      expect(res.status).toBe(expected.status);
      const rows = await auditRowsAfter(t.ward, before);
      expect(rows).toHaveLength(1);
      const [row] = rows;
      const e = row?.parsed;

      expect(e.who.id).toBe(expected.principal);
      expect(row?.principalId).toBe(expected.principal);
      expect(e.action).toBe(expected.action);
      expect(row?.action).toBe(expected.action);
      expect(e.resourceType).toBe(expected.resourceType);
      expect(row?.resourceType).toBe(expected.resourceType ?? null);
      if (expected.resourceId === KEYED_HASH) {
        // An id no stored row confirmed is client text: it is recorded only as a keyed hash.
        expect(e.resourceId).toMatch(/^hmac:[0-9a-f]{32}$/);
        expect(row?.resourceId).toBe(e.resourceId);
      } else {
        expect(e.resourceId).toBe(expected.resourceId);
        expect(row?.resourceId).toBe(expected.resourceId ?? null);
      }
      expect(e.patientId).toBe(expected.patientId);
      expect(row?.patientId).toBe(expected.patientId ?? null);
      if (expected.returned) expect(e.returned).toEqual(expected.returned);

      expect(e.time).toMatch(ISO_UTC_MS);
      expect(row?.recordedAt.toISOString()).toBe(e.time);
      expect(Math.abs(Date.parse(e.time) - Date.now())).toBeLessThan(60_000);
      expect(e.where.address).toBe('127.0.0.1');
      expect(e.where.requestId).toMatch(UUID);
      expect(requestIds.has(e.where.requestId)).toBe(false);
      requestIds.add(e.where.requestId);
      expect(e.outcome.status).toBe(expected.status);
      expect(row?.outcome).toBe(expected.status < 400 ? 'success' : expected.status >= 500 ? 'error' : 'failure');
      expect(e.decision.effect).toBe(expected.effect);
    });
  });

  it('never records resource contents, even of refused bodies or identifier searches', async () => {
    const before = await lastAuditSeq(t.ward);
    const family = 'Qzxsentinelfamily';
    const given = 'Qzxsentinelgiven';
    const mrn = 'QZX-SENTINEL-MRN-771';
    const body = { ...patient(family), name: [{ family, given: [given] }], identifier: [{ system: 'urn:sentinel', value: mrn }] };
    const created = await doctor.post('Patient', body);
    expect(created.status).toBe(201);
    expect((await doctor.get(`Patient/${created.body.id}`)).body.name[0].family).toBe(family);
    expect((await doctor.get(`Patient?identifier=urn:sentinel|${mrn}`)).body.entry).toHaveLength(1);
    expect((await doctor.put(`Patient/${created.body.id}`, { ...created.body, gender: 'unknown' })).status).toBe(200);
    expect((await doctor.get(`Patient/${created.body.id}/_history`)).status).toBe(200);
    expect((await doctor.post('Patient', { ...body, gender: `${given}-not-a-code` })).status).toBe(400);
    expect((await anonymous.get(`Patient?identifier=${mrn}`)).status).toBe(401);

    const rows = await auditRowsAfter(t.ward, before);
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const row of rows) {
      const text = JSON.stringify(row);
      for (const sentinel of [family, given, mrn, '1971-02-03']) expect(text).not.toContain(sentinel);
    }
    // The search entry still tells which records were seen.
    expect(rows.find((r) => r.action === 'search')?.parsed.returned).toEqual([`Patient/${created.body.id}`]);
  });

  it('stores leaf_hash = SHA-256(0x00 ‖ seq as 8-byte big-endian ‖ UTF-8 entry) for every row', async () => {
    await doctor.post('Patient', patient('Hashed'));
    const rows = await auditRowsAfter(t.ward, 0);
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      const seq = Buffer.alloc(8);
      seq.writeBigInt64BE(BigInt(row.seq));
      const expected = createHash('sha256')
        .update(Buffer.concat([Buffer.from([0]), seq, Buffer.from(row.entry, 'utf8')]))
        .digest();
      expect(row.leafHash.toString('hex'), `leaf hash of seq ${row.seq}`).toBe(expected.toString('hex'));
    }
  });

  describe('170.315(d)(2)(iv): the application cannot change, overwrite or delete audit records', () => {
    it.runIf(engine === 'postgres')('the serving role is neither superuser nor owner, and lacks UPDATE/DELETE/TRUNCATE', async () => {
      const { rows } = await t.ward.db.query<{ me: string; super: boolean; owner: string; member: boolean }>(
        `SELECT current_user AS me, r.rolsuper AS super, t.tableowner AS owner, pg_has_role(current_user, t.tableowner, 'MEMBER') AS member
           FROM pg_roles r, pg_tables t WHERE r.rolname = current_user AND t.tablename = 'ward_audit_entry'`,
      );
      const me = rows[0];
      expect(me?.super).toBe(false);
      expect(me?.owner).not.toBe(me?.me);
      expect(me?.member).toBe(false);
      const digest = await auditDigest(t);
      for (const sql of [`UPDATE ward_audit_entry SET outcome = 'success'`, 'DELETE FROM ward_audit_entry', 'TRUNCATE ward_audit_entry']) {
        await expect(t.ward.db.query(sql), sql).rejects.toMatchObject({
          code: '42501',
          message: expect.stringContaining('permission denied for table ward_audit_entry'),
        });
      }
      expect(await auditDigest(t)).toBe(digest);
    });

    it.runIf(engine === 'postgres')('the serving role cannot disable the triggers, drop them or drop the log', async () => {
      const digest = await auditDigest(t);
      for (const sql of [
        'ALTER TABLE ward_audit_entry DISABLE TRIGGER ALL',
        'ALTER TABLE ward_audit_entry DISABLE TRIGGER ward_audit_entry_no_change',
        'DROP TRIGGER ward_audit_entry_no_change ON ward_audit_entry',
        'DROP TABLE ward_audit_entry',
        'ALTER TABLE ward_audit_entry RENAME TO ward_audit_entry_old',
      ]) {
        await expect(t.ward.db.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
      await expect(t.ward.db.query('SET session_replication_role = replica')).rejects.toMatchObject({ code: '42501' });
      expect(await auditDigest(t)).toBe(digest);
    });

    it('even the owner is refused UPDATE, DELETE and TRUNCATE by the append-only trigger', async () => {
      const digest = await auditDigest(t);
      const rowsBefore = await count(t, 'ward_audit_entry');
      expect(rowsBefore).toBeGreaterThan(0);
      for (const sql of [
        `UPDATE ward_audit_entry SET outcome = 'success' WHERE outcome <> 'success'`,
        `UPDATE ward_audit_entry SET entry = entry || ' '`,
        'DELETE FROM ward_audit_entry',
        'TRUNCATE ward_audit_entry',
      ]) {
        await expect(asOwner(t, sql), sql).rejects.toThrow(/ward_audit_entry is append-only/);
      }
      expect(await count(t, 'ward_audit_entry')).toBe(rowsBefore);
      expect(await auditDigest(t)).toBe(digest);
    });
  });

  it('164.312(b) (no unaudited access): with audit storage failing, reads and writes answer 503 and send or store nothing', async () => {
    const created = (await doctor.post('Patient', patient('Outage'))).body;
    const resourcesBefore = await count(t, 'ward_resource');
    const versionsBefore = await count(t, 'ward_resource_version');
    const auditBefore = await count(t, 'ward_audit_entry');
    await asOwner(t, 'ALTER TABLE ward_audit_entry ADD CONSTRAINT audit_down CHECK (false) NOT VALID');
    try {
      const read = await doctor.get(`Patient/${created.id}`);
      expect(read.status).toBe(503);
      expect(read.body.resourceType).toBe('OperationOutcome');
      expect(read.body.issue[0].details.coding).toContainEqual(expect.objectContaining({ code: 'WARD_AUDIT_UNAVAILABLE' }));
      for (const phi of ['Outage', 'MRN-Outage', 'Robin', '1971-02-03', created.id]) expect(read.raw.body).not.toContain(phi);

      const search = await doctor.get(`Patient?_id=${created.id}`);
      expect(search.status).toBe(503);
      expect(search.raw.body).not.toContain('Outage');

      const create = await doctor.post('Patient', patient('Unstored'));
      expect(create.status).toBe(503);
      expect(create.raw.body).not.toContain('Unstored');
      expect(create.headers.location).toBeUndefined();

      const update = await doctor.put(`Patient/${created.id}`, { ...created, gender: 'male' });
      expect(update.status).toBe(503);

      expect(await count(t, 'ward_resource')).toBe(resourcesBefore);
      expect(await count(t, 'ward_resource_version')).toBe(versionsBefore);
      expect(await count(t, 'ward_audit_entry')).toBe(auditBefore);
    } finally {
      await asOwner(t, 'ALTER TABLE ward_audit_entry DROP CONSTRAINT IF EXISTS audit_down');
    }
    const again = await audited(() => doctor.get(`Patient/${created.id}`));
    expect(again.res.status).toBe(200);
    expect(again.res.body.gender).toBe('female');
    expect(again.rows).toHaveLength(1);
  });

  describe('a write and its audit entry commit together', () => {
    it('a create that fails validation stores no resource and exactly one entry with status 400', async () => {
      const resourcesBefore = await count(t, 'ward_resource');
      const versionsBefore = await count(t, 'ward_resource_version');
      const { res, rows } = await audited(() => doctor.post('Patient', { ...patient('Rejected'), birthDate: 'not-a-date' }));
      expect(res.status).toBe(400);
      expect(await count(t, 'ward_resource')).toBe(resourcesBefore);
      expect(await count(t, 'ward_resource_version')).toBe(versionsBefore);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.parsed).toMatchObject({ action: 'create', outcome: { status: 400, code: 'WARD_INVALID_RESOURCE' } });
    });

    it('a successful create stores its resource and its entry, naming the version written', async () => {
      const resourcesBefore = await count(t, 'ward_resource');
      const { res, rows } = await audited(() => doctor.post('Patient', patient('Committed')));
      expect(res.status).toBe(201);
      expect(await count(t, 'ward_resource')).toBe(resourcesBefore + 1);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.parsed).toMatchObject({ action: 'create', resourceId: res.body.id, versionId: 1, outcome: { status: 201 } });
    });

    it('a 412 If-Match conflict leaves the version unchanged and exactly one entry with status 412', async () => {
      const created = (await doctor.post('Patient', patient('Conflict'))).body;
      expect((await doctor.put(`Patient/${created.id}`, { ...created, gender: 'other' }, { 'if-match': 'W/"1"' })).status).toBe(200);
      const versions = async () =>
        (
          await t.ward.db.query<{ n: unknown; current: unknown }>(
            `SELECT (SELECT count(*) FROM ward_resource_version WHERE resource_type = 'Patient' AND id = $1) AS n,
                    (SELECT version_id FROM ward_resource WHERE resource_type = 'Patient' AND id = $1) AS current`,
            [created.id],
          )
        ).rows[0];
      const before = await versions();
      const { res, rows } = await audited(() =>
        doctor.put(`Patient/${created.id}`, { ...created, gender: 'unknown' }, { 'if-match': 'W/"1"' }),
      );
      expect(res.status).toBe(412);
      expect(await versions()).toEqual(before);
      expect(Number(before?.current)).toBe(2);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.parsed).toMatchObject({
        action: 'update',
        resourceType: 'Patient',
        resourceId: created.id,
        outcome: { status: 412, code: 'WARD_VERSION_CONFLICT' },
      });
      expect((await doctor.get(`Patient/${created.id}`)).body.gender).toBe('other');
    });
  });
});

describe.each(engines())('client text in request paths on %s', (engine) => {
  let t: TestWard;
  let token: string;
  beforeAll(async () => {
    t = await openTestWard(engine);
    token = await t.token(SERVICE);
  });
  afterAll(async () => t.close());

  it('records an unconfirmed id only as a keyed hash — the same id gives the same hash — and an unknown type not at all', async () => {
    const fhir = fhirClient(t, token);
    const before = await lastAuditSeq(t.ward);
    await fhir.get('Patient/123-45-6789');
    await fhir.get('Patient/123-45-6789');
    await fhir.get('Patient/987-65-4321');
    await fhir.get('Jane%20Doe%20MRN-4455/1');
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(4);
    const all = rows.map((r) => r.entry).join('\n') + rows.map((r) => `${r.resourceType}|${r.resourceId}`).join('\n');
    expect(all).not.toMatch(/123-45-6789|987-65-4321|Jane|MRN-4455/);
    expect(rows[0]?.resourceId).toBe(rows[1]?.resourceId);
    expect(rows[0]?.resourceId).not.toBe(rows[2]?.resourceId);
    expect(rows[3]?.resourceType).toBeNull();
    expect(rows[3]?.parsed.outcome.code).toBe('WARD_UNKNOWN_TYPE');
  });

  it('a NUL byte in a path neither fails the audit batch of other requests nor goes unaudited', async () => {
    const fhir = fhirClient(t, token);
    const patient = (await fhir.post('Patient', { resourceType: 'Patient', active: true })).body;
    const before = await lastAuditSeq(t.ward);
    const [hostile, hostileAnon, legit] = await Promise.all([
      fhir.get('Patient/%00'),
      fhirClient(t).get('%00/x'),
      fhir.get(`Patient/${patient.id}`),
    ]);
    expect(legit.status).toBe(200);
    expect([hostile.status, hostileAnon.status]).toEqual([404, 401]);
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows).toHaveLength(3);
  });
});

describe.each(engines())('refusals decided before any data is read on %s', (engine) => {
  let t: TestWard;
  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t.close());

  it('audits a read with a malformed _summary as the 400 it answers, never as a successful read', async () => {
    const fhir = fhirClient(t, await t.token(SERVICE));
    const patient = (await fhir.post('Patient', { resourceType: 'Patient', active: true })).body;
    const before = await lastAuditSeq(t.ward);
    expect((await fhir.get(`Patient/${patient.id}?_summary=count`)).status).toBe(400);
    const rows = await auditRowsAfter(t.ward, before);
    expect(rows.map((r) => r.parsed.outcome.status)).toEqual([400]);
  });
});
