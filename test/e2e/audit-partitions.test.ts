import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPartitions } from '../../src/app/audit-archive-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { auditRowOf, canonicalJson, entryLeafHash } from '../../src/audit/index.js';
import { insertAuditRows, MIGRATIONS, migrate, openPglite, readAuditRows } from '../../src/store/index.js';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { asOwner } from '../support/owner-sql.js';

const monthName = (d: Date) => `ward_audit_entry_${d.toISOString().slice(0, 4)}_${d.toISOString().slice(5, 7)}`;

describe.each(engines())('monthly audit partitions keep every append-only guarantee on %s', (engine) => {
  let t: TestWard;
  let writer: ReturnType<typeof fhirClient>;

  beforeAll(async () => {
    t = await openTestWard(engine);
    writer = fhirClient(t, await t.token(SERVICE));
    expect((await writer.post('Patient', { resourceType: 'Patient', gender: 'other' })).status).toBe(201);
  }, 120_000);
  afterAll(() => t?.close());

  const partitionOf = async (seq: number) =>
    (await t.ward.db.query<{ p: string }>('SELECT tableoid::regclass::text AS p FROM ward_audit_entry WHERE seq = $1', [seq])).rows[0]?.p;

  it('an entry lands in its month, and the owner has created this month and the twelve after it', async () => {
    expect(await partitionOf(await lastAuditSeq(t.ward))).toBe(monthName(new Date()));
    const report = await auditPartitions(t.ward, operatorPrincipal('ops'), operatorContext('cli'));
    const now = new Date();
    const expected = Array.from({ length: 13 }, (_, i) => monthName(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1))));
    expect(report.partitions.map((p) => p.name)).toEqual(expect.arrayContaining(expected));
    expect(report.defaultPartitionRows).toBe(0);
    const entry = (await auditRowsAfter(t.ward)).filter((r) => r.parsed.action === 'audit-partitions').at(-1);
    expect(entry?.parsed).toMatchObject({ who: { id: 'operator:ops' }, outcome: { status: 200 } });
  });

  it('every partition, the default one and one created later, carries the insert, append-only and TRUNCATE triggers and the query indexes', async () => {
    await asOwner(t, 'SELECT ward_audit_month_partition($1)', ['2041-02-01T00:00:00Z']);
    const { rows } = await t.ward.db.query<{ p: string; triggers: string[]; indexes: string[] }>(
      `SELECT c.relname AS p,
              ARRAY(SELECT tgname::text FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal ORDER BY 1) AS triggers,
              ARRAY(SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = c.oid) AS indexes
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ward_audit_entry'::regclass`,
    );
    expect(rows.map((r) => r.p)).toEqual(expect.arrayContaining(['ward_audit_entry_default', 'ward_audit_entry_2041_02']));
    for (const r of rows) {
      expect(r.triggers, r.p).toEqual(['ward_audit_entry_leaf', 'ward_audit_entry_no_change', 'ward_audit_partition_no_truncate']);
      const defs = r.indexes.join('\n');
      expect(defs, r.p).toMatch(/USING gin \(patients\) WHERE \(patients IS NOT NULL\)/);
      expect(defs, r.p).toMatch(/USING gin \(returned\) WHERE \(returned IS NOT NULL\)/);
      expect(defs, r.p).toMatch(/\(seq\) WHERE \(action = 'audit-verify'::text\)/);
      expect(defs, r.p).toMatch(/\(patient_id, recorded_at\)/);
    }
  });

  it('170.315(d)(2)(iv): a partition created later refuses UPDATE, DELETE and TRUNCATE, even to the owner; its rows keep their numbers and leaves', async () => {
    // An entry of a future month, written through the ordinary path.
    t.setNow(new Date('2041-02-10T09:00:00.000Z'));
    const late = fhirClient(t, await t.token(SERVICE));
    expect((await late.get('Patient?_count=1')).status).toBe(200);
    t.setNow(null);
    const seq = await lastAuditSeq(t.ward);
    expect(await partitionOf(seq)).toBe('ward_audit_entry_2041_02');
    const row = (await readAuditRows(t.ward.db, { afterSeq: seq - 1, limit: 1 }))[0];
    expect(row?.leafHash.equals(entryLeafHash(seq, row.entry))).toBe(true);
    for (const sql of [
      `UPDATE ward_audit_entry_2041_02 SET outcome = 'x'`,
      'DELETE FROM ward_audit_entry_2041_02',
      'TRUNCATE ward_audit_entry_2041_02',
      'TRUNCATE ward_audit_entry_default',
      `UPDATE ward_audit_entry SET outcome = 'x' WHERE seq = ${seq}`,
    ]) {
      await expect(asOwner(t, sql), sql).rejects.toThrow(/ward_audit_entry is append-only/);
    }
    expect((await readAuditRows(t.ward.db, { afterSeq: seq - 1, limit: 1 }))[0]?.entry).toBe(row?.entry);
  });

  it.runIf(engine === 'postgres')(
    '170.315(d)(2)(iv): the serving role has no grant on any partition and no DDL: it can neither touch a partition directly nor create or drop one',
    async () => {
      for (const sql of [
        'SELECT count(*) FROM ward_audit_entry_2041_02',
        `UPDATE ward_audit_entry_2041_02 SET outcome = 'x'`,
        'DELETE FROM ward_audit_entry_default',
        'TRUNCATE ward_audit_entry_2041_02',
        'DROP TABLE ward_audit_entry_2041_02',
        'ALTER TABLE ward_audit_entry DETACH PARTITION ward_audit_entry_2041_02',
        `SELECT ward_audit_month_partition('2042-01-01')`,
        `CREATE TABLE ward_audit_entry_2042_01 PARTITION OF ward_audit_entry FOR VALUES FROM ('2042-01-01') TO ('2042-02-01')`,
      ]) {
        await expect(t.ward.db.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
    },
  );

  it('an entry of a month without a partition lands in the default partition, which the status reports', async () => {
    t.setNow(new Date('2001-01-05T09:00:00.000Z'));
    const old = fhirClient(t, await t.token(SERVICE));
    expect((await old.get('Patient?_count=1')).status).toBe(200);
    t.setNow(null);
    expect(await partitionOf(await lastAuditSeq(t.ward))).toBe('ward_audit_entry_default');
    const officer = fhirClient(t, await t.token({ role: 'privacy-officer', sub: 'Practitioner/po-part', scope: 'user/AuditEvent.crs' }));
    expect((await officer.get('/admin/audit/status')).body.defaultPartitionRows).toBeGreaterThanOrEqual(2);
  });
});

describe('upgrading a log written before partitions (migration 6)', () => {
  it('moves every entry into its month partition with its number, leaf hash and query columns unchanged', async () => {
    const db = await openPglite('memory://');
    try {
      await migrate(
        db,
        MIGRATIONS.filter((m) => m.version < 6),
      );
      const entries = ['2024-01-31T23:59:59.999Z', '2024-02-01T00:00:00.000Z', '2025-07-15T12:00:00.000Z'].map((time, i) => ({
        time,
        who: { id: `Practitioner/p${i}`, kind: 'user' as const, roles: ['physician'] },
        action: 'search' as const,
        resourceType: 'Patient',
        where: { listener: 'https' as const },
        purposeOfUse: 'TREAT',
        decision: { effect: 'permit' as const, reasons: [] },
        outcome: { status: 200 },
        returned: [`Patient/a${i}`, `Patient/b${i}`],
        detail: { patients: `a${i} b${i}` },
      }));
      await insertAuditRows(
        db,
        entries.map((e) => auditRowOf(JSON.parse(canonicalJson(e)))),
      );
      const before = await readAuditRows(db, { limit: 100 });
      await migrate(db);
      const after = await readAuditRows(db, { limit: 100 });
      expect(after).toEqual(before);
      const { rows } = await db.query<{ seq: number; p: string }>(
        'SELECT seq, tableoid::regclass::text AS p FROM ward_audit_entry ORDER BY seq',
      );
      expect(rows.map((r) => r.p)).toEqual(['ward_audit_entry_2024_01', 'ward_audit_entry_2024_02', 'ward_audit_entry_2025_07']);
      // New entries still get the next number from the trigger, whatever an INSERT says.
      const [next] = await insertAuditRows(db, [auditRowOf(JSON.parse(canonicalJson({ ...entries[0], time: new Date().toISOString() })))]);
      expect(next).toBe(Math.max(...before.map((r) => r.seq)) + 1);
    } finally {
      await db.close();
    }
  }, 60_000);
});
