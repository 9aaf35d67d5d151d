import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRowsAfter, lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { careTeam } from '../support/relationships.js';
import { runWard } from '../support/ward-process.js';

const ROW = '164.312(c)(1)';
const PURGE = { role: 'purge', sub: 'system', scope: 'system/*.d' } as const;
const SEARCH_TABLES = ['token', 'date', 'reference', 'number', 'uri', 'blind'].map((t) => `ward_search_${t}`);
const SECRET_TEXT = 'Purgeable narrative 7f3a';

/** What the database holds of one resource: versions, current pointer, search-index rows. */
async function stored(t: TestWard, type: string, id: string): Promise<{ versions: number; pointer: number; index: number }> {
  const count = async (table: string) =>
    Number(
      (await t.ward.db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${table} WHERE resource_type = $1 AND id = $2`, [type, id])).rows[0]
        ?.n,
    );
  let index = 0;
  for (const table of SEARCH_TABLES) index += await count(table);
  return { versions: await count('ward_resource_version'), pointer: await count('ward_resource'), index };
}

const observation = (patientId: string, value: number) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: '2026-11-02T08:00:00Z',
  valueQuantity: { value, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  note: [{ text: SECRET_TEXT }],
});

describe.each(engines())(`${ROW}: hard purge by the dedicated purge role on %s`, (engine) => {
  let t: TestWard;
  let service: FhirClient;
  let purger: FhirClient;
  let P: string;

  beforeAll(async () => {
    t = await openTestWard(engine);
    service = fhirClient(t, await t.token(SERVICE));
    purger = fhirClient(t, await t.token(PURGE));
    P = (await service.post('Patient', { resourceType: 'Patient', name: [{ family: 'Purgeperson' }], gender: 'other' })).body.id;
    expect((await service.post('CareTeam', careTeam(P, 'Practitioner/doc-purge'))).status).toBe(201);
  });
  afterAll(async () => t?.close());

  /** An Observation with three versions: created, updated, deleted (a tombstone). */
  async function threeVersions(): Promise<string> {
    const created = await service.post('Observation', observation(P, 60));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect((await service.put(`Observation/${id}`, { ...observation(P, 61), id })).status).toBe(200);
    expect((await service.delete(`Observation/${id}`)).status).toBe(200);
    return id;
  }

  it(`${ROW}: the purge role removes every version, the current pointer and every search-index row, with one audit entry that holds no content`, async () => {
    const id = await threeVersions();
    expect(await stored(t, 'Observation', id)).toMatchObject({ versions: 3, pointer: 1 });
    // A live resource has search-index rows (a tombstone has none): purge one of those too.
    const liveId = (await service.post('Observation', observation(P, 70))).body.id as string;
    expect((await stored(t, 'Observation', liveId)).index).toBeGreaterThan(0);

    for (const [target, versions] of [
      [id, 3],
      [liveId, 1],
    ] as const) {
      const seq = await lastAuditSeq(t.ward);
      const res = await purger.post(`Observation/${target}/$purge`, {});
      expect(res.status).toBe(200);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect(await stored(t, 'Observation', target)).toEqual({ versions: 0, pointer: 0, index: 0 });
      const entries = (await auditRowsAfter(t.ward, seq)).filter((r) => r.parsed.where?.route === '/fhir/:type/:id/$purge');
      expect(entries).toHaveLength(1);
      const entry = entries[0]?.parsed;
      expect(entry).toMatchObject({
        action: 'purge',
        resourceType: 'Observation',
        resourceId: target,
        patientId: P,
        who: { roles: ['purge'] },
        decision: { effect: 'permit' },
        outcome: { status: 200 },
        detail: { purgedVersions: String(versions) },
      });
      expect(entries[0]?.entry).not.toContain(SECRET_TEXT);
      expect(entries[0]?.entry).not.toContain('8867-4');
    }
    // Afterwards: not found, no history, not found by search.
    expect((await service.get(`Observation/${id}`)).status).toBe(404);
    expect((await service.get(`Observation/${liveId}`)).status).toBe(404);
    const history = await service.get(`Observation/${id}/_history`);
    expect(history.status === 404 || (history.status === 200 && (history.body.entry ?? []).length === 0)).toBe(true);
    const search = await service.get(`Observation?subject=Patient/${P}&code=http://loinc.org|8867-4&_total=accurate`);
    expect(search.body.entry ?? []).toEqual([]);
    expect(search.body.total).toBe(0);
    // A purge of what is gone (or never was) is 404, audited.
    expect((await purger.post(`Observation/${id}/$purge`, {})).status).toBe(404);
  });

  it.each([
    ['physician', { role: 'physician', sub: 'Practitioner/doc-purge', scope: 'user/*.cruds' }],
    ['system', SERVICE],
    ['system-admin', { role: 'system-admin', sub: 'Practitioner/admin-purge', scope: 'user/*.cruds' }],
    ['privacy-officer', { role: 'privacy-officer', sub: 'Practitioner/po-purge', scope: 'user/*.cruds' }],
    ['patient', { role: 'patient', sub: 'PATIENT', scope: 'patient/*.cruds', patient: 'PATIENT' }],
  ] as const)(`${ROW}: a %s is refused a purge with 403, audited, and nothing is removed`, async (_name, spec) => {
    const id = await threeVersions();
    const sub = spec.sub === 'PATIENT' ? `Patient/${P}` : spec.sub;
    const token = await t.token({ ...spec, sub, ...('patient' in spec ? { patient: P } : {}) });
    const client = fhirClient(t, token);
    const seq = await lastAuditSeq(t.ward);
    const res = await client.post(`Observation/${id}/$purge`, {});
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).not.toContain(SECRET_TEXT);
    expect(await stored(t, 'Observation', id)).toMatchObject({ versions: 3, pointer: 1 });
    expect((await service.get(`Observation/${id}/_history/2`)).status).toBe(200);
    const entries = (await auditRowsAfter(t.ward, seq)).filter((r) => r.parsed.action === 'purge');
    expect(entries).toHaveLength(1);
    expect(entries[0]?.parsed).toMatchObject({ who: { id: sub }, decision: { effect: 'deny' }, outcome: { status: 403 } });
    // A missing resource answers the same: no existence oracle for the refused.
    expect((await client.post('Observation/no-such-thing/$purge', {})).status).toBe(403);
  });

  it(`${ROW}: a purge token cannot read, search, write or delete the resource it could purge`, async () => {
    const id = (await service.post('Observation', observation(P, 80))).body.id as string;
    for (const res of [
      await purger.get(`Observation/${id}`),
      await purger.get(`Observation/${id}/_history`),
      await purger.get(`Observation?subject=Patient/${P}`),
      await purger.get(`Patient/${P}/$everything`),
      await purger.post('Observation', observation(P, 81)),
      await purger.delete(`Observation/${id}`),
    ]) {
      expect(res.status).toBe(403);
      expect(JSON.stringify(res.body)).not.toContain(SECRET_TEXT);
    }
    expect(await stored(t, 'Observation', id)).toMatchObject({ versions: 1, pointer: 1 });
  });

  it(`${ROW}: a principal holding purge beside a clinical role is refused a token (separation of duties)`, async () => {
    await expect(t.token({ role: ['purge', 'physician'], sub: 'system', scope: 'system/*.cruds' })).rejects.toThrow(
      /purge role is held alone/,
    );
    await expect(t.token({ role: ['purge', 'system'], sub: 'system', scope: 'system/*.cruds' })).rejects.toThrow(
      /purge role is held alone/,
    );
  });

  it(`${ROW}: calling the purge function without a purge audit entry in the same transaction removes nothing`, async () => {
    const id = await threeVersions();
    // As the serving connection (the owner's on PGlite): the deferred check refuses at commit.
    const refused = { code: '42501', message: expect.stringContaining('purge audited in the same transaction') };
    await expect(t.ward.db.query('SELECT ward_purge_resource($1, $2)', ['Observation', id])).rejects.toMatchObject(refused);
    await expect(
      t.ward.db.transaction(async (tx) => {
        await tx.query('SELECT ward_purge_resource($1, $2)', ['Observation', id]);
      }),
    ).rejects.toMatchObject(refused);
    expect(await stored(t, 'Observation', id)).toMatchObject({ versions: 3, pointer: 1 });
  });

  it.runIf(engine === 'postgres')(
    `${ROW}: the serving role cannot delete or rewrite history with plain SQL; it may only call the one-resource purge function`,
    async () => {
      const id = await threeVersions();
      for (const sql of [
        'DELETE FROM ward_resource_version',
        `DELETE FROM ward_resource_version WHERE resource_type = 'Observation'`,
        'DELETE FROM ward_resource',
        'UPDATE ward_resource_version SET deleted = deleted',
        'TRUNCATE ward_resource_version',
      ]) {
        await expect(t.ward.db.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
      expect(await stored(t, 'Observation', id)).toMatchObject({ versions: 3, pointer: 1 });
      const { rows } = await t.ward.db.query<{ mine: boolean; anyone: boolean }>(
        `SELECT has_function_privilege(current_user, 'ward_purge_resource(text, text)', 'EXECUTE') AS mine,
                has_function_privilege('public', 'ward_purge_resource(text, text)', 'EXECUTE') AS anyone`,
      );
      expect(rows[0]).toEqual({ mine: true, anyone: false });
    },
  );
});

describe(`${ROW}: ward token create --role purge`, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-purge-cli-'));
  const env = { WARD_DATA_DIR: dataDir, WARD_LOG_LEVEL: 'warn' };
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it(`${ROW}: mints a purge token, and refuses purge beside another role`, () => {
    const ok = runWard(['token', 'create', '--role', 'purge', '--sub', 'system', '--scope', 'system/*.d'], env);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const payload = JSON.parse(Buffer.from(ok.stdout.trim().split('.')[1] as string, 'base64url').toString('utf8'));
    expect(payload.ward_roles).toEqual(['purge']);
    const both = runWard(['token', 'create', '--role', 'purge', '--role', 'physician', '--sub', 'system', '--scope', 'system/*.d'], env);
    expect(both.status).not.toBe(0);
    expect(both.stdout).toBe('');
    expect(both.stderr).toMatch(/purge role is held alone/);
  });
});
