import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openWard } from '../../src/app/ward.js';
import { auditRowsAfter } from '../support/audit-rows.js';
import { createTestDatabase, engines } from '../support/engines.js';
import { httpsCall, readCa, runWard, startWardProcess } from '../support/ward-process.js';

/**
 * A crash or kill mid-write loses no acknowledged write and leaves no half-written resource or
 * audit entry: SIGKILL the server while writes are in flight, start it again, and check.
 */
describe.each(engines())('a server killed mid-write on %s', (engine) => {
  const dataDirs: string[] = [];
  afterAll(() => {
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });

  it('keeps every acknowledged write, and every stored version has exactly its audit entry', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ward-crash-'));
    dataDirs.push(dataDir);
    const env: Record<string, string> = {
      WARD_DATA_DIR: dataDir,
      WARD_PORT: '0',
      WARD_LOG_LEVEL: 'warn',
      ...(engine === 'postgres' ? { DATABASE_URL: await createTestDatabase() } : {}),
    };
    let ward = await startWardProcess(env);
    const ca = readCa(dataDir);
    const token = runWard(
      ['token', 'create', '--role', 'physician', '--sub', 'Practitioner/crash', '--scope', 'user/*.cruds'],
      env,
    ).stdout.trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' };

    const acknowledged: string[] = [];
    let stop = false;
    const writer = async (n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const body = JSON.stringify({ resourceType: 'Basic', code: { text: `crash ${n}.${i}` } });
          const res = await httpsCall(`${ward.url}/fhir/Basic`, { ca, method: 'POST', headers, body });
          if (res.status === 201) acknowledged.push(JSON.parse(res.body).id);
        } catch {
          return; // the connection died with the server
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, n) => writer(n));
    while (acknowledged.length < 60) await new Promise((r) => setTimeout(r, 20));
    ward.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await new Promise((r) => ward.child.once('exit', r));
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);

    ward = await startWardProcess(env);
    const token2 = runWard(
      ['token', 'create', '--role', 'physician', '--sub', 'Practitioner/crash', '--scope', 'user/*.rs'],
      env,
    ).stdout.trim();
    const lost: string[] = [];
    for (const id of acknowledged) {
      const res = await httpsCall(`${ward.url}/fhir/Basic/${id}`, { ca, headers: { authorization: `Bearer ${token2}` } });
      if (res.status !== 200) lost.push(`${id}: ${res.status}`);
    }
    expect(lost).toEqual([]);
    await ward.stop();

    const w = await openWard(loadConfig(env), { migrate: true });
    try {
      const versions = (
        await w.db.query<{ id: string; version_id: number }>(
          `SELECT id, version_id FROM ward_resource_version WHERE resource_type = 'Basic'`,
        )
      ).rows;
      const audited = new Set(
        (await auditRowsAfter(w))
          .filter((r) => r.action === 'create' && r.parsed.outcome.status === 201)
          .map((r) => `${r.resourceId}/${r.parsed.versionId}`),
      );
      // No version without its audit entry, and no successful-create entry without its version.
      expect(versions.filter((v) => !audited.has(`${v.id}/${v.version_id}`))).toEqual([]);
      expect(audited.size).toBe(versions.length);
      // Every resource's current row points at a stored version (no half-written resource).
      const { rows } = await w.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ward_resource r JOIN ward_resource_version v ON v.seq = r.current_seq WHERE r.resource_type = 'Basic'`,
      );
      expect(rows[0]?.n).toBe(versions.length);
    } finally {
      await w.close();
    }
  }, 240_000);
});
