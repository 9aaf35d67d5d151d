import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditVerify } from '../../src/app/audit-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { type AuditFault, CompactRange, describeFault, entryLeafHash, signTreeHead } from '../../src/audit/index.js';
import { readHeads, type StoredHead } from '../../src/store/index.js';
import { auditRowsAfter } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { asSuperuserPastTriggers } from '../support/owner-sql.js';

/** Writes and reads a few resources, then seals: each call adds entries under one new head. */
async function activityThenSeal(t: TestWard, token: string, n: number): Promise<void> {
  const fhir = fhirClient(t, token);
  for (let i = 0; i < n; i++) {
    const created = await fhir.post('Patient', { resourceType: 'Patient', gender: 'other' });
    expect(created.status).toBe(201);
    expect((await fhir.get(`Patient/${created.body.id}`)).status).toBe(200);
  }
  await t.ward.sealer.sealAll();
}

async function heads(t: TestWard): Promise<StoredHead[]> {
  return readHeads(t.ward.db, 0, 1000);
}

async function verify(t: TestWard) {
  return auditVerify(t.ward, operatorPrincipal('auditor'), operatorContext('cli'), {});
}

/** The entry numbers one head sealed (none of its own rolled back here, so the range is dense). */
function sealedBy(all: StoredHead[], i: number): { from: number; through: number } {
  return { from: (all[i - 1]?.lastSeq ?? 0) + 1, through: (all[i] as StoredHead).lastSeq };
}

describe.each(engines())('170.315(d)(2)(v): tampering with the audit log is detected and named on %s', (engine) => {
  let t: TestWard;
  let all: StoredHead[];
  // An entry in the middle of the second head's range, and that head.
  let target: number;
  let targetHead: StoredHead;

  beforeAll(async () => {
    t = await openTestWard(engine);
    const token = await t.token(SERVICE);
    for (let round = 0; round < 3; round++) await activityThenSeal(t, token, 4);
    all = await heads(t);
    expect(all.length).toBeGreaterThanOrEqual(3);
    const middle = sealedBy(all, 1);
    target = Math.floor((middle.from + middle.through) / 2);
    targetHead = all[1] as StoredHead;
  }, 120_000);
  afterAll(() => t?.close());

  const faultsOf = async () => {
    const report = await verify(t);
    return { report, faults: report.faults, lines: report.faults.map(describeFault) };
  };

  it('an untouched log verifies clean: every leaf, head, signature, consistency proof and the witness', async () => {
    const { report } = await faultsOf();
    expect(report.faults).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.treeSize).toBe(all.at(-1)?.treeSize);
    expect(report.witnessedTreeSize).toBe(all.at(-1)?.treeSize);
  });

  it('changing one field of one entry names that entry and the head whose root no longer matches', async () => {
    await asSuperuserPastTriggers(t, `UPDATE ward_audit_entry SET entry = replace(entry, '"outcome"', '"outcome" ') WHERE seq = ${target}`);
    try {
      const { faults, lines } = await faultsOf();
      expect(faults).toContainEqual<AuditFault>({ kind: 'entry-altered', seq: target });
      expect(faults).toContainEqual<AuditFault>({
        kind: 'head-root-mismatch',
        treeSize: targetHead.treeSize,
        fromSeq: sealedBy(all, 1).from,
        throughSeq: sealedBy(all, 1).through,
      });
      expect(faults).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(`^entry ${target}: `));
    } finally {
      await asSuperuserPastTriggers(
        t,
        `UPDATE ward_audit_entry SET entry = replace(entry, '"outcome" ', '"outcome"') WHERE seq = ${target}`,
      );
    }
    expect((await faultsOf()).faults).toEqual([]);
  });

  it('an edit that also recomputes the leaf hash is still caught by the signed root of the head that sealed it', async () => {
    await asSuperuserPastTriggers(
      t,
      `CREATE TABLE tamper_saved AS SELECT * FROM ward_audit_entry WHERE seq = ${target};
       UPDATE ward_audit_entry SET entry = replace(entry, '"TREAT"', '"HOPERAT"') WHERE seq = ${target};
       UPDATE ward_audit_entry SET leaf_hash = sha256('\\x00'::bytea || int8send(seq) || convert_to(entry, 'UTF8')) WHERE seq = ${target}`,
    );
    try {
      const { faults } = await faultsOf();
      expect(faults).toEqual<AuditFault[]>([
        { kind: 'head-root-mismatch', treeSize: targetHead.treeSize, fromSeq: sealedBy(all, 1).from, throughSeq: sealedBy(all, 1).through },
      ]);
    } finally {
      await restoreSaved(t, target);
    }
  });

  it("re-pointing an entry's query columns (to hide it from a patient's reports) names the entry and the columns", async () => {
    await asSuperuserPastTriggers(
      t,
      `CREATE TABLE tamper_saved AS SELECT * FROM ward_audit_entry WHERE seq = ${target};
       UPDATE ward_audit_entry SET patient_id = 'someone-else', principal_id = 'Practitioner/nobody' WHERE seq = ${target}`,
    );
    try {
      const { faults, lines } = await faultsOf();
      expect(faults).toEqual<AuditFault[]>([{ kind: 'entry-keys-altered', seq: target, columns: ['principal_id', 'patient_id'] }]);
      expect(lines[0]).toMatch(new RegExp(`^entry ${target}: its query columns \\(principal_id, patient_id\\) no longer match`));
    } finally {
      await restoreSaved(t, target);
    }
  });

  it('deleting an entry in the middle names the missing entry', async () => {
    await asSuperuserPastTriggers(
      t,
      `CREATE TABLE tamper_saved AS SELECT * FROM ward_audit_entry WHERE seq = ${target};
       DELETE FROM ward_audit_entry WHERE seq = ${target}`,
    );
    try {
      const { faults, lines } = await faultsOf();
      expect(faults).toContainEqual<AuditFault>({
        kind: 'entries-missing',
        fromSeq: target,
        throughSeq: target,
        treeSize: targetHead.treeSize,
      });
      expect(faults.map((f) => f.kind).sort()).toEqual(['entries-missing', 'head-root-mismatch']);
      expect(lines.join('\n')).toMatch(new RegExp(`entry ${target}: missing`));
    } finally {
      await restoreSaved(t, target);
    }
  });

  it('swapping two entries names both', async () => {
    const other = target + 1;
    await asSuperuserPastTriggers(
      t,
      `CREATE TABLE tamper_saved AS SELECT * FROM ward_audit_entry WHERE seq IN (${target}, ${other});
       UPDATE ward_audit_entry SET seq = -seq WHERE seq IN (${target}, ${other});
       UPDATE ward_audit_entry SET seq = ${other} WHERE seq = -${target};
       UPDATE ward_audit_entry SET seq = ${target} WHERE seq = -${other}`,
    );
    try {
      const { faults } = await faultsOf();
      expect(faults).toContainEqual<AuditFault>({ kind: 'entry-altered', seq: target });
      expect(faults).toContainEqual<AuditFault>({ kind: 'entry-altered', seq: other });
      expect(faults.filter((f) => f.kind === 'entry-altered')).toHaveLength(2);
    } finally {
      await restoreSaved(t, target, other);
    }
  });

  it('deleting the newest entries together with their heads (truncation) is caught by the witness', async () => {
    const newest = all.at(-1) as StoredHead;
    const kept = all.at(-2) as StoredHead;
    await asSuperuserPastTriggers(
      t,
      `CREATE TABLE tamper_saved AS SELECT * FROM ward_audit_entry WHERE seq > ${kept.lastSeq};
       CREATE TABLE tamper_saved_heads AS SELECT * FROM ward_audit_head WHERE tree_size > ${kept.treeSize};
       DELETE FROM ward_audit_entry WHERE seq > ${kept.lastSeq};
       DELETE FROM ward_audit_head WHERE tree_size > ${kept.treeSize}`,
    );
    try {
      const { faults, lines } = await faultsOf();
      expect(faults).toHaveLength(1);
      expect(faults[0]).toMatchObject({
        kind: 'database-behind-witness',
        witnessedTreeSize: newest.treeSize,
        databaseTreeSize: kept.treeSize,
      });
      expect(lines[0]).toMatch(/truncated or an older database was restored/);
    } finally {
      await asSuperuserPastTriggers(
        t,
        `INSERT INTO ward_audit_entry SELECT * FROM tamper_saved; DROP TABLE tamper_saved;
         INSERT INTO ward_audit_head SELECT * FROM tamper_saved_heads; DROP TABLE tamper_saved_heads`,
      );
    }
    expect((await faultsOf()).faults).toEqual([]);
  });

  it('a head forged without the audit key is named by its tree size', async () => {
    const rows = await auditRowsAfter(t.ward, 0);
    const newest = all.at(-1) as StoredHead;
    // The forger can compute the true root of everything written so far, but not sign it.
    const range = CompactRange.empty();
    for (const r of rows) range.append(entryLeafHash(r.seq, r.entry));
    const forger = generateKeyPairSync('ed25519');
    const forged = signTreeHead(forger.privateKey, t.ward.auditKey.publicKey, range.size, Date.now(), range.root());
    const lastSeq = rows.at(-1)?.seq as number;
    expect(range.size).toBeGreaterThan(newest.treeSize);
    await asSuperuserPastTriggers(
      t,
      `INSERT INTO ward_audit_head (tree_size, last_seq, gaps, root_hash, timestamp_ms, key_id, signature, frontier)
       VALUES (${range.size}, ${lastSeq}, '{}', '\\x${range.root().toString('hex')}', ${forged.timestamp}, '${forged.keyId}',
               '\\x${forged.signature.toString('hex')}', '\\x${range.toBytes().toString('hex')}')`,
    );
    try {
      const { faults, lines } = await faultsOf();
      expect(faults).toEqual<AuditFault[]>([{ kind: 'head-signature-invalid', treeSize: range.size }]);
      expect(lines[0]).toMatch(new RegExp(`^head of tree size ${range.size}: signature does not verify`));
    } finally {
      await asSuperuserPastTriggers(t, `DELETE FROM ward_audit_head WHERE tree_size = ${range.size}`);
    }
  });
});

/** Puts back the rows saved in tamper_saved, exactly as they were. */
async function restoreSaved(t: TestWard, ...seqs: number[]): Promise<void> {
  await asSuperuserPastTriggers(
    t,
    `DELETE FROM ward_audit_entry WHERE seq IN (${seqs.join(', ')});
     INSERT INTO ward_audit_entry SELECT * FROM tamper_saved;
     DROP TABLE tamper_saved`,
  );
}
