import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditArchive } from '../../src/app/audit-archive-commands.js';
import { auditProve, auditVerify } from '../../src/app/audit-commands.js';
import { operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import type { AuditFault } from '../../src/audit/index.js';
import { readHeads } from '../../src/store/index.js';
import { auditRowsAfter } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { asOwner, asSuperuserPastTriggers } from '../support/owner-sql.js';
import { runWard } from '../support/ward-process.js';

const CHECK_ARCHIVE = join(import.meta.dirname, '..', 'support', 'check_audit_archive.py');
const CHECK_PROOF = join(import.meta.dirname, '..', 'support', 'check_inclusion_proof.py');
const WRITER = SERVICE;
/** A month more than six years back: what a Ward that ran then wrote into its own partition. */
const OLD_MONTH = new Date('2019-03-14T10:00:00.000Z');
const PARTITION = 'ward_audit_entry_2019_03';

async function activity(t: TestWard, token: string, n: number): Promise<void> {
  const fhir = fhirClient(t, token);
  for (let i = 0; i < n; i++) {
    const created = await fhir.post('Patient', { resourceType: 'Patient', gender: 'other' });
    expect(created.status).toBe(201);
    expect((await fhir.get(`Patient/${created.body.id}`)).status).toBe(200);
  }
}

const operator = () => operatorPrincipal('archivist');

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

describe.each(engines())('164.316(b)(2)(i): archiving audit partitions older than the retention on %s', (engine) => {
  let t: TestWard;
  let out: string;
  let oldSeqs: number[];
  let liveSeq: number;
  /** The CLI against this ward's database (PostgreSQL only: embedded PGlite belongs to one process). */
  const cli = (args: string[]) =>
    runWard(args, { WARD_DATA_DIR: t.config.dataDir, DATABASE_URL: t.ownerUrl as string, WARD_LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    t = await openTestWard(engine);
    out = mkdtempSync(join(tmpdir(), 'ward-archive-'));
    const token = await t.token({ ...WRITER, ttl: '24h' });
    await activity(t, token, 2);
    // Entries of an old month, between today's: their leaves sit in the middle of the tree.
    await asOwner(t, `SELECT ward_audit_month_partition($1)`, [OLD_MONTH.toISOString()]);
    t.setNow(OLD_MONTH);
    const before = (await auditRowsAfter(t.ward)).at(-1)?.seq ?? 0;
    await activity(t, await t.token({ ...WRITER, ttl: '24h' }), 3);
    oldSeqs = (await auditRowsAfter(t.ward, before)).map((r) => r.seq);
    t.setNow(null);
    await activity(t, token, 2);
    liveSeq = (await auditRowsAfter(t.ward)).at(-1)?.seq as number;
    await t.ward.sealer.sealAll();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it('refuses a date inside the retention period, drops nothing, and audits the refusal', async () => {
    const args = { before: '2023-01-01', outDir: out };
    await expect(auditArchive(t.ward, operator(), operatorContext('cli'), args)).rejects.toThrow(
      /inside the audit retention period of 6 years/,
    );
    expect((await t.ward.db.query(`SELECT to_regclass('${PARTITION}') AS r`)).rows[0]?.r).not.toBeNull();
    const refused = (await auditRowsAfter(t.ward)).filter((r) => r.parsed.action === 'audit-archive');
    expect(refused.at(-1)?.parsed).toMatchObject({ who: { id: 'operator:archivist' }, outcome: { status: 403 } });
    // A longer configured retention moves the line: 2019 is within ten years.
    const tenYears = await openTestWard(engine, { WARD_AUDIT_RETENTION_YEARS: '10' });
    try {
      await expect(auditArchive(tenYears.ward, operator(), operatorContext('cli'), { before: '2019-04-01', outDir: out })).rejects.toThrow(
        /retention period of 10 years/,
      );
    } finally {
      await tenYears.close();
    }
  });

  it('exports the old partition with proofs an independent checker accepts, then drops it; the drop is an audit entry under a later head', async () => {
    const archivedBefore = Date.now();
    if (engine === 'postgres') {
      const r = cli(['audit', 'archive', '--before', '2019-04-01', '--out', out]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(new RegExp(`^archived ${PARTITION}: ${oldSeqs.length} entries \\(${oldSeqs[0]}-${oldSeqs.at(-1)}\\)`, 'm'));
      expect(r.status).toBe(0);
    } else {
      const result = await auditArchive(t.ward, operator(), operatorContext('cli'), { before: '2019-04-01', outDir: out });
      expect(result.archived).toEqual([expect.objectContaining({ partition: PARTITION, entries: oldSeqs.length, firstSeq: oldSeqs[0] })]);
    }
    for (const suffix of ['ndjson', 'head.json', 'sha256']) expect(existsSync(join(out, `${PARTITION}.${suffix}`))).toBe(true);
    const lines = readFileSync(join(out, `${PARTITION}.ndjson`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.seq)).toEqual(oldSeqs);
    expect(lines.every((l) => l.recordedAt.startsWith('2019-03-14'))).toBe(true);

    // Independent: Python's hashlib and openssl, from the RFCs, with the published key.
    writeFileSync(join(out, 'key.pem'), t.ward.auditKey.publicKeyPem);
    const check = spawnSync('python3', [CHECK_ARCHIVE, out, PARTITION, join(out, 'key.pem')], { encoding: 'utf8' });
    expect(check.stdout.trim()).toBe(`OK ${oldSeqs.length} entries`);
    expect(check.status).toBe(0);
    const digests = spawnSync('sha256sum', ['-c', `${PARTITION}.sha256`], { cwd: out, encoding: 'utf8' });
    expect(digests.status).toBe(0);

    // …and an archive edited after the fact fails that check, even with its digests and leaf hash
    // recomputed by whoever edited it: the path no longer leads to the signed root.
    const forgedDir = mkdtempSync(join(tmpdir(), 'ward-archive-forged-'));
    try {
      const victim = lines.findIndex((l) => JSON.parse(l.entry).action === 'read');
      expect(victim).toBeGreaterThanOrEqual(0);
      const forgeLine = (l: (typeof lines)[number]) => {
        const entry = l.entry.replace('"action":"read"', '"action":"search"');
        const leaf = createHash('sha256')
          .update(Buffer.concat([Buffer.from([0]), u64(l.seq), Buffer.from(entry, 'utf8')]))
          .digest('hex');
        return { ...l, entry, leafHash: leaf };
      };
      const ndjson = `${lines.map((l, i) => JSON.stringify(i === victim ? forgeLine(l) : l)).join('\n')}\n`;
      const head = readFileSync(join(out, `${PARTITION}.head.json`));
      writeFileSync(join(forgedDir, `${PARTITION}.ndjson`), ndjson);
      writeFileSync(join(forgedDir, `${PARTITION}.head.json`), head);
      const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
      writeFileSync(join(forgedDir, `${PARTITION}.sha256`), `${sha(ndjson)}  ${PARTITION}.ndjson\n${sha(head)}  ${PARTITION}.head.json\n`);
      const forged = spawnSync('python3', [CHECK_ARCHIVE, forgedDir, PARTITION, join(out, 'key.pem')], { encoding: 'utf8' });
      expect(forged.stdout).toMatch(new RegExp(`^FAIL entry ${lines[victim]?.seq}: the path does not lead to the signed root`));
      expect(forged.status).toBe(1);
    } finally {
      rmSync(forgedDir, { recursive: true, force: true });
    }

    // The partition is gone; its leaf hashes are kept; the drop is audited and sealed.
    expect((await t.ward.db.query(`SELECT to_regclass('${PARTITION}') AS r`)).rows[0]?.r).toBeNull();
    expect((await auditRowsAfter(t.ward)).some((r) => oldSeqs.includes(r.seq))).toBe(false);
    const kept = await t.ward.db.query<{ n: string }>('SELECT count(*)::text AS n FROM ward_audit_archived_leaf');
    expect(Number(kept.rows[0]?.n)).toBe(oldSeqs.length);
    const archiveEntry = (await auditRowsAfter(t.ward))
      .filter((r) => r.parsed.action === 'audit-archive' && r.parsed.outcome.status === 200)
      .at(-1);
    expect(archiveEntry?.parsed.detail).toMatchObject({
      partition: PARTITION,
      entries: String(oldSeqs.length),
      firstSeq: String(oldSeqs[0]),
      lastSeq: String(oldSeqs.at(-1)),
      file: join(out, `${PARTITION}.ndjson`),
    });
    expect(new Date(archiveEntry?.parsed.time).getTime()).toBeGreaterThanOrEqual(archivedBefore - 1000);
    await t.ward.sealer.sealAll();
    const newest = (await readHeads(t.ward.db, 0, 10_000)).at(-1);
    expect(newest?.lastSeq).toBeGreaterThanOrEqual(archiveEntry?.seq as number);
  });

  it('ward audit verify still verifies the whole tree and every head, and reports the archived range', async () => {
    const report = await auditVerify(t.ward, operator(), operatorContext('cli'), {});
    expect(report.faults).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.archivedEntries).toBe(oldSeqs.length);
    expect(report.archives).toEqual([
      expect.objectContaining({ partition: PARTITION, entries: oldSeqs.length, firstSeq: oldSeqs[0], lastSeq: oldSeqs.at(-1) }),
    ]);
    if (engine === 'postgres') {
      const r = cli(['audit', 'verify']);
      expect(r.stdout).toMatch(new RegExp(`^archived: ${PARTITION} \\(2019-03-01 \\.\\. 2019-04-01\\), ${oldSeqs.length} entries`, 'm'));
      expect(r.stdout).toMatch(/^verified: /m);
      expect(r.status).toBe(0);
    }
  });

  it('ward audit verify --archives checks every recorded archive on disk: a missing, altered or swapped archive is a named fault', async () => {
    const check = () => auditVerify(t.ward, operator(), operatorContext('cli'), { archivesDir: out });
    expect((await check()).faults).toEqual([]);
    const ndjson = join(out, `${PARTITION}.ndjson`);
    const original = readFileSync(ndjson);
    try {
      // An entry's text changed in the archive (its digest file left as it was).
      writeFileSync(ndjson, original.toString('utf8').replace('"action', '"actio\\u006e'));
      const altered = await check();
      expect(altered.ok).toBe(false);
      expect(altered.faults).toEqual([expect.objectContaining({ kind: 'archive-invalid', partition: PARTITION })]);
      // The archive removed: the partition's entries now exist nowhere.
      rmSync(ndjson);
      expect((await check()).faults).toEqual([{ kind: 'archive-missing', partition: PARTITION, path: ndjson }]);
      // Swapped for a self-consistent archive that is not the one recorded: the recorded digest tells.
      writeFileSync(ndjson, original);
      const digests = join(out, `${PARTITION}.sha256`);
      const digestText = readFileSync(digests, 'utf8');
      const extra = `${original.toString('utf8')}`;
      writeFileSync(ndjson, `${extra}\n`);
      writeFileSync(
        digests,
        digestText.replace(/^[0-9a-f]{64}(?= {2}.*\.ndjson$)/m, createHash('sha256').update(`${extra}\n`).digest('hex')),
      );
      const swapped = await check();
      expect(swapped.faults).toEqual([
        {
          kind: 'archive-invalid',
          partition: PARTITION,
          reason: `${PARTITION}.ndjson is not the file recorded when the partition was archived`,
        },
      ]);
      writeFileSync(digests, digestText);
    } finally {
      writeFileSync(ndjson, original);
    }
    expect((await check()).ok).toBe(true);
    if (engine === 'postgres') {
      expect(cli(['audit', 'verify', '--archives', out]).status).toBe(0);
      rmSync(ndjson);
      const r = cli(['audit', 'verify', '--archives', out]);
      expect(r.status).toBe(1);
      expect(r.stdout + r.stderr).toContain(`archive of ${PARTITION}: ${ndjson} is missing`);
      writeFileSync(ndjson, original);
    }
  });

  it('a kept leaf hash changed past the triggers is caught by the signed root of its head', async () => {
    const target = oldSeqs[1] as number;
    const original = (
      await t.ward.db.query<{ h: string }>(`SELECT encode(leaf_hash, 'hex') AS h FROM ward_audit_archived_leaf WHERE seq = $1`, [target])
    ).rows[0]?.h;
    expect(original).toMatch(/^[0-9a-f]{64}$/);
    await asSuperuserPastTriggers(t, `UPDATE ward_audit_archived_leaf SET leaf_hash = sha256(leaf_hash) WHERE seq = ${target}`);
    try {
      const report = await auditVerify(t.ward, operator(), operatorContext('cli'), {});
      expect(report.faults).toContainEqual(expect.objectContaining<Partial<AuditFault>>({ kind: 'head-root-mismatch' }));
      expect(report.ok).toBe(false);
    } finally {
      await asSuperuserPastTriggers(t, `UPDATE ward_audit_archived_leaf SET leaf_hash = '\\x${original}' WHERE seq = ${target}`);
    }
    expect((await auditVerify(t.ward, operator(), operatorContext('cli'), {})).ok).toBe(true);
  });

  it('ward audit prove says an archived entry is archived and where; a live entry still proves, with the archived leaves counted', async () => {
    const archived = oldSeqs[0] as number;
    if (engine === 'postgres') {
      const r = cli(['audit', 'prove', String(archived)]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`entry ${archived} is archived: partition ${PARTITION}`);
      expect(r.stderr).toContain(join(out, `${PARTITION}.ndjson`));
    } else {
      await expect(auditProve(t.ward, operator(), operatorContext('cli'), archived)).rejects.toThrow(
        new RegExp(`entry ${archived} is archived: partition ${PARTITION} .* to ${join(out, PARTITION)}\\.ndjson`),
      );
    }
    const proof = await auditProve(t.ward, operator(), operatorContext('cli'), liveSeq);
    writeFileSync(join(out, 'proof.json'), JSON.stringify(proof));
    const check = spawnSync('python3', [CHECK_PROOF, join(out, 'proof.json'), join(out, 'key.pem')], { encoding: 'utf8' });
    expect(check.stdout.trim()).toBe('OK');
  });

  it('the serving role cannot change or remove kept leaves or archive records', async () => {
    for (const sql of [
      'DELETE FROM ward_audit_archived_leaf',
      `UPDATE ward_audit_archive SET file = 'elsewhere'`,
      'TRUNCATE ward_audit_archived_leaf',
    ]) {
      await expect(t.ward.db.query(sql), sql).rejects.toMatchObject({ code: '42501' });
    }
  });
});
