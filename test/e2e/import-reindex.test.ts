import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openWard, type Ward } from '../../src/app/ward.js';
import { parseSearch } from '../../src/fhir/index.js';
import { createTestDatabase, engines } from '../support/engines.js';
import { SYNTHEA_DIR, syntheaBundles } from '../support/synthea.js';
import { runWard, WARD_BIN } from '../support/ward-process.js';

/** The first fixture files: enough for a kill in the middle, few enough to import twice per engine. */
const FILES = 8;

/**
 * `ward import` and `ward reindex` as an operator runs them: a separate process, killed mid-import
 * and run again, ending with exactly the fixture's resources — each once — and an index that a
 * reindex rebuilds after its rows were deleted.
 */
describe.each(engines())('ward import and ward reindex on %s', (engine) => {
  let env: Record<string, string>;
  let dataDir: string;
  let inputDir: string;
  const bundles = syntheaBundles().slice(0, FILES);
  // Ids are preserved, so a resource shared by several files (the same Organization) is one resource.
  const expected = new Map<string, Set<string>>();
  for (const b of bundles) {
    for (const e of b.entries) {
      const type = e.resource.resourceType as string;
      expected.set(type, (expected.get(type) ?? new Set()).add(e.fullUrl));
    }
  }

  const open = (): Promise<Ward> => openWard(loadConfig(env, dataDir), { migrate: true });
  const ward = (args: string[]) => runWard(args, env, 900_000);

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'ward-import-'));
    inputDir = join(dataDir, 'input');
    mkdirSync(inputDir);
    for (const b of bundles) copyFileSync(join(SYNTHEA_DIR, b.file), join(inputDir, b.file));
    env = {
      WARD_DATA_DIR: dataDir,
      WARD_BASE_URL: 'https://ward.test',
      WARD_LOG_LEVEL: 'silent',
      ...(engine === 'postgres' ? { DATABASE_URL: await createTestDatabase() } : {}),
    };
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('ward migrate applies the schema as the owner and, run again, has nothing pending (both audited)', async () => {
    const first = ward(['migrate']);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/migrations are up to date/);
    const second = ward(['migrate']);
    expect(second.status).toBe(0);
    const w = await open();
    try {
      const { rows } = await w.db.query<{ entry: string }>("SELECT entry FROM ward_audit_entry WHERE action = 'migrate' ORDER BY seq");
      const details = rows.map((r) => JSON.parse(r.entry).detail as { applied: string; schema: string });
      expect(details).toHaveLength(2);
      // A PostgreSQL test database is cloned from the run's migrated template: nothing is pending there.
      expect(details[0]?.applied).toBe(engine === 'pglite' ? details[0]?.schema : 'none pending');
      expect(details[0]?.schema.split(' ')).toContain('13');
      expect(details[1]?.applied).toBe('none pending');
      expect(details[1]?.schema).toBe(details[0]?.schema);
    } finally {
      await w.close();
    }
  }, 300_000);

  it('resumes an import killed part-way and ends with exactly the expected resources, each audited as the import principal', async () => {
    const child = spawn(process.execPath, [WARD_BIN, 'import', inputDir], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (/file 3\/\d+ done/.test(out)) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    await new Promise((resolve) => child.once('exit', resolve));
    expect(out).toMatch(/file 3\/8 done/);
    expect(out).not.toMatch(/^imported/m);

    const rerun = ward(['import', inputDir]);
    expect(rerun.stderr).toBe('');
    expect(rerun.status).toBe(0);
    const summary = /imported (\d+) resources from (\d+) files \((\d+) already done, 0 failed\) in [\d.]+ s: \d+ resources\/s/.exec(
      rerun.stdout,
    );
    expect(summary).not.toBeNull();
    expect(Number(summary?.[3])).toBeGreaterThanOrEqual(3);

    const w = await open();
    try {
      const { rows } = await w.db.query<{ resource_type: string; n: number }>(
        'SELECT resource_type, count(*)::int AS n FROM ward_resource WHERE NOT deleted GROUP BY resource_type',
      );
      const counts = Object.fromEntries(rows.map((r) => [r.resource_type, r.n]));
      expect(counts).toEqual(Object.fromEntries([...expected].map(([type, urls]) => [type, urls.size])));
      const audit = await w.db.query<{ principal_id: string; action: string; n: number }>(
        `SELECT principal_id, action, count(*)::int AS n FROM ward_audit_entry WHERE action IN ('create', 'update', 'import') AND outcome = 'success'
          GROUP BY principal_id, action`,
      );
      expect(audit.rows.every((r) => r.principal_id === 'ward:import')).toBe(true);
      expect(audit.rows.find((r) => r.action === 'import')?.n).toBe(1);
    } finally {
      await w.close();
    }
  }, 1_800_000);

  it('rebuilds deleted search-index rows with ward reindex, so searches find the patients again', async () => {
    const patient = bundles[0]?.entries.find((e) => e.resource.resourceType === 'Patient')?.resource;
    const family = patient.name[0].family.slice(0, 4);
    const search = async (w: Ward) => {
      const minted = await w.tokens.mint({
        sub: 'system',
        roles: ['system'],
        scope: 'system/*.rs',
        ttlSeconds: 600,
        clientId: 'ward-test',
      });
      const principal = await w.tokens.verify(minted.token);
      const request = parseSearch('Patient', new URLSearchParams({ family, _count: '100' }), { lenient: false, now: new Date() });
      const page = await w.vault.search(principal, { requestId: 'reindex-test', listener: 'cli', audited: false }, 'Patient', request, {
        pageSize: 100,
      });
      return page.entries.map((e) => e.resource.id);
    };
    let w = await open();
    try {
      expect(await search(w)).toContain(patient.id);
      await w.db.query("DELETE FROM ward_search_blind WHERE resource_type = 'Patient'");
      await w.db.query("DELETE FROM ward_search_token WHERE resource_type = 'Patient'");
      expect(await search(w)).toEqual([]);
    } finally {
      await w.close();
    }
    const run = ward(['reindex', '--type', 'Patient']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`reindexed ${expected.get('Patient')?.size} resources in [\\d.]+ s: \\d+ resources/s`));
    w = await open();
    try {
      expect(await search(w)).toContain(patient.id);
      const { rows } = await w.db.query<{ principal_id: string; entry: string }>(
        "SELECT principal_id, entry FROM ward_audit_entry WHERE action = 'reindex'",
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.principal_id === 'ward:reindex')).toBe(true);
      expect(rows.some((r) => r.entry.includes(patient.name[0].family))).toBe(false);
    } finally {
      await w.close();
    }
  }, 600_000);

  it('loads several files at once (--concurrency 4), files sharing Organizations and Practitioners, each write once and audited once', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'ward-import-concurrent-'));
    const freshEnv = {
      ...env,
      WARD_DATA_DIR: fresh,
      ...(engine === 'postgres' ? { DATABASE_URL: await createTestDatabase() } : {}),
    };
    try {
      expect(runWard(['import', '--concurrency', '0', inputDir], freshEnv).status).toBe(2);
      const run = runWard(['import', '--concurrency', '4', inputDir], freshEnv, 900_000);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const entries = bundles.reduce((n, b) => n + b.entries.length, 0);
      expect(run.stdout).toMatch(new RegExp(`imported ${entries} resources from ${FILES} files \\(0 already done, 0 failed\\)`));
      const w = await openWard(loadConfig(freshEnv, fresh), { migrate: true });
      try {
        const { rows } = await w.db.query<{ resource_type: string; n: number }>(
          'SELECT resource_type, count(*)::int AS n FROM ward_resource WHERE NOT deleted GROUP BY resource_type',
        );
        expect(Object.fromEntries(rows.map((r) => [r.resource_type, r.n]))).toEqual(
          Object.fromEntries([...expected].map(([type, urls]) => [type, urls.size])),
        );
        // A shared resource is written once per file that holds it: versions, and successful write entries, match the entries.
        const versions = await w.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ward_resource_version');
        expect(versions.rows[0]?.n).toBe(entries);
        const audit = await w.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM ward_audit_entry WHERE action IN ('create', 'update') AND outcome = 'success'",
        );
        expect(audit.rows[0]?.n).toBe(entries);
      } finally {
        await w.close();
      }
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 900_000);
});
