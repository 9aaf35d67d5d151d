import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';
import { withDatabase } from '../support/global-setup.js';
import { httpsCall, readCa, runWard, startWardProcess, type WardProcess } from '../support/ward-process.js';

const CHECKER = join(import.meta.dirname, '..', 'support', 'check_inclusion_proof.py');

/**
 * `ward audit verify` and `ward audit prove` as an operator runs them: against a running server
 * on embedded PGlite (through the admin channel), and against PostgreSQL directly.
 */
describe('ward audit verify and prove on a running server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-audit-cli-'));
  const env = { WARD_DATA_DIR: dataDir, WARD_PORT: '0', WARD_LOG_LEVEL: 'warn', WARD_AUDIT_SEAL_INTERVAL_MS: '50' };
  let ward: WardProcess;
  let ca: string;

  beforeAll(async () => {
    ward = await startWardProcess(env);
    ca = readCa(dataDir);
    // The physician registers patients in its own unit (--organization), which gives it the relationship it needs (ADR 0009).
    const token = runWard(
      [
        'token',
        'create',
        '--role',
        'physician',
        '--sub',
        'Practitioner/cli-audit',
        '--scope',
        'user/*.cruds',
        '--organization',
        'Organization/cli-unit',
      ],
      env,
    );
    expect(token.status).toBe(0);
    const auth = { authorization: `Bearer ${token.stdout.trim()}`, 'content-type': 'application/fhir+json' };
    for (let i = 0; i < 5; i++) {
      const created = await httpsCall(`${ward.url}/fhir/Patient`, {
        ca,
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ resourceType: 'Patient', gender: 'unknown', managingOrganization: { reference: 'Organization/cli-unit' } }),
      });
      expect(created.status).toBe(201);
    }
    // The sealer runs every 50 ms: wait until a head covers what was written.
    for (let i = 0; i < 100; i++) {
      const r = JSON.parse(runWard(['audit', 'verify', '--json'], env).stdout);
      if (r.treeSize >= 6) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }, 120_000);
  afterAll(async () => {
    await ward?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('publishes the audit public key, whose key id is the SHA-256 of its SubjectPublicKeyInfo', async () => {
    const res = await httpsCall(`${ward.url}/.well-known/ward-audit-key`, { ca });
    expect(res.status).toBe(200);
    const key = JSON.parse(res.body);
    expect(key.algorithm).toBe('Ed25519');
    const der = createPublicKey(key.publicKeyPem).export({ type: 'spki', format: 'der' });
    expect(key.keyId).toBe(createHash('sha256').update(der).digest('hex'));
  });

  it('170.315(d)(2)(v): ward audit verify exits 0 on an untouched log and reports the witness', () => {
    const r = runWard(['audit', 'verify'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^audit log: \d+ entries, \d+ signed heads, tree size \d+/);
    expect(r.stdout).toMatch(/witness: newest witnessed head has tree size \d+/);
    expect(r.stdout).toMatch(/^verified: /m);
  });

  it('an inclusion proof from ward audit prove checks out with an independent verifier, and a changed entry does not', async () => {
    const r = runWard(['audit', 'prove', '3'], env);
    expect(r.status).toBe(0);
    const proof = JSON.parse(r.stdout);
    expect(proof.seq).toBe(3);
    expect(JSON.parse(proof.entry).action).toBeTypeOf('string');
    const key = JSON.parse((await httpsCall(`${ward.url}/.well-known/ward-audit-key`, { ca })).body);
    const dir = mkdtempSync(join(tmpdir(), 'ward-proof-'));
    try {
      writeFileSync(join(dir, 'key.pem'), key.publicKeyPem);
      writeFileSync(join(dir, 'proof.json'), r.stdout);
      const check = spawnSync('python3', [CHECKER, join(dir, 'proof.json'), join(dir, 'key.pem')], { encoding: 'utf8' });
      expect(check.stdout.trim()).toBe('OK');
      expect(check.status).toBe(0);

      const altered = { ...JSON.parse(proof.entry), action: 'read', resourceId: 'someone-else' };
      writeFileSync(join(dir, 'forged.json'), JSON.stringify({ ...proof, entry: JSON.stringify(altered) }));
      const forged = spawnSync('python3', [CHECKER, join(dir, 'forged.json'), join(dir, 'key.pem')], { encoding: 'utf8' });
      expect(forged.stdout).toMatch(/^FAIL the path does not lead to the signed root/);
      expect(forged.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('164.316(b)(2)(i): ward audit archive through the running server refuses a date inside the retention period and drops nothing', () => {
    const out = mkdtempSync(join(tmpdir(), 'ward-archive-cli-'));
    try {
      const before = JSON.parse(runWard(['audit', 'verify', '--json'], env).stdout);
      const r = runWard(['audit', 'archive', '--before', '2024-01-01', '--out', out], env);
      expect(r.stderr).toMatch(/--before 2024-01-01 is inside the audit retention period of 6 years/);
      expect(r.status).toBe(1);
      const partitions = runWard(['audit', 'partitions'], env);
      expect(partitions.status).toBe(0);
      expect(partitions.stdout).toMatch(/^ward_audit_entry_\d{4}_\d{2} {2}\d{4}-\d{2}-01 \.\. \d{4}-\d{2}-01 {2}\d+ entries$/m);
      expect(partitions.stdout).toMatch(/the default partition holds 0 row\(s\)$/m);
      const after = JSON.parse(runWard(['audit', 'verify', '--json'], env).stdout);
      expect(after.ok).toBe(true);
      expect(after.archivedEntries).toBe(0);
      expect(after.entries).toBeGreaterThan(before.entries);
      expect(runWard(['audit', 'archive', '--before', '2019-13-01', '--out', out], env).status).toBe(1);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('ward audit prove refuses a number no sealed entry has', () => {
    const r = runWard(['audit', 'prove', '999999'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/not sealed yet/);
    expect(runWard(['audit', 'prove', 'abc'], env).status).toBe(2);
  });
});

describe.skipIf(!engines().includes('postgres'))('restoring an older database on PostgreSQL', () => {
  let t: TestWard;
  let restoredUrl: string;

  beforeAll(async () => {
    t = await openTestWard('postgres');
    const fhir = fhirClient(t, await t.token(SERVICE));
    expect((await fhir.post('Patient', { resourceType: 'Patient', gender: 'male' })).status).toBe(201);
    await t.ward.sealer.sealAll();
    const dump = execFileSync('pg_dump', ['--dbname', t.ownerUrl as string, '--no-owner', '--no-acl'], { maxBuffer: 256 * 1024 * 1024 });
    expect((await fhir.post('Patient', { resourceType: 'Patient', gender: 'female' })).status).toBe(201);
    await t.ward.sealer.sealAll();

    const database = `${inject('runId')}_restored`;
    const admin = new pg.Client({ connectionString: inject('pgAdminUrl') as string });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.end();
    restoredUrl = withDatabase(t.ownerUrl as string, database);
    execFileSync('psql', ['--quiet', '--set', 'ON_ERROR_STOP=1', '--dbname', restoredUrl], { input: dump });
  }, 120_000);
  afterAll(() => t?.close());

  it('170.315(d)(2)(v): ward audit verify against the restored database exits 1 and says the witness is ahead', () => {
    // The live database verifies clean against the witness…
    const live = runWard(['audit', 'verify'], {
      WARD_DATA_DIR: t.config.dataDir,
      DATABASE_URL: t.ownerUrl as string,
      WARD_LOG_LEVEL: 'silent',
    });
    expect(live.stdout).toMatch(/^verified: /m);
    expect(live.status).toBe(0);
    // …the restored one, older than what the witness saw, does not; and the command, whose own
    // entry it wrote there, signs no head that would fork from the witness.
    const witnessBefore = readFileSync(t.config.auditWitnessFile, 'utf8');
    const r = runWard(['audit', 'verify'], { WARD_DATA_DIR: t.config.dataDir, DATABASE_URL: restoredUrl, WARD_LOG_LEVEL: 'silent' });
    expect(r.stdout).toMatch(
      /FAULT the witness holds a head of tree size \d+ .* but the database's newest head has tree size \d+: entries were truncated or an older database was restored/,
    );
    expect(r.stdout).toMatch(/^NOT VERIFIED: 1 fault\(s\)$/m);
    expect(r.status).toBe(1);
    expect(readFileSync(t.config.auditWitnessFile, 'utf8')).toBe(witnessBefore);
    const again = runWard(['audit', 'verify'], { WARD_DATA_DIR: t.config.dataDir, DATABASE_URL: restoredUrl, WARD_LOG_LEVEL: 'silent' });
    expect(again.stdout).toMatch(/^NOT VERIFIED: 1 fault\(s\)$/m);
  });
});
