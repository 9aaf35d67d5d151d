import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, openTestWard, SERVICE, type TestWard } from '../support/engines.js';
import { type FhirClient, fhirClient } from '../support/fhir-client.js';
import { rewriteReferences, syntheaBundles, syntheaPhiStrings } from '../support/synthea.js';

const withoutMeta = (r: any) => {
  const { meta: _meta, ...rest } = r;
  return rest;
};

describe.each(engines())('every Synthea fixture entry on %s', (engine) => {
  let t: TestWard;
  let fhir: FhirClient;
  const created: { type: string; id: string; sent: any }[] = [];
  const failures: string[] = [];

  beforeAll(async () => {
    t = await openTestWard(engine);
    // Loading and checking every fixture entry can outlast a 15-minute token on a busy machine.
    fhir = fhirClient(t, await t.token({ ...SERVICE, ttl: '2h' }));
    for (const bundle of syntheaBundles()) {
      const assigned = new Map<string, string>();
      for (const entry of bundle.entries) {
        const { id: _fixtureId, ...body } = rewriteReferences(entry.resource, assigned);
        const res = await fhir.post(body.resourceType, body);
        if (res.status !== 201) {
          failures.push(`${bundle.file} ${body.resourceType}: ${res.status} ${JSON.stringify(res.body?.issue?.slice(0, 3))}`);
          continue;
        }
        assigned.set(entry.fullUrl, `${body.resourceType}/${res.body.id}`);
        created.push({ type: body.resourceType, id: res.body.id, sent: body });
      }
    }
  }, 900_000);
  afterAll(async () => t?.close());

  it('creates every entry (references rewritten to the assigned ids)', () => {
    expect(failures).toEqual([]);
    expect(created.length).toBe(syntheaBundles().reduce((n, b) => n + b.entries.length, 0));
  });

  it('reads every entry back equal to what was sent, apart from meta', async () => {
    const mismatches: string[] = [];
    for (const c of created) {
      const res = await fhir.get(`${c.type}/${c.id}`);
      const { id, ...rest } = withoutMeta(res.body);
      if (res.status !== 200 || id !== c.id || JSON.stringify(rest) !== JSON.stringify(withoutMeta(c.sent)))
        mismatches.push(`${c.type}/${c.id}`);
    }
    expect(mismatches).toEqual([]);
  }, 600_000);

  it('updates every entry and shows both versions in its history', async () => {
    const problems: string[] = [];
    for (const c of created) {
      const body = { ...c.sent, id: c.id, meta: { tag: [{ system: 'urn:ward:test', code: 'updated' }] } };
      const upd = await fhir.put(`${c.type}/${c.id}`, body, { 'if-match': 'W/"1"' });
      if (upd.status !== 200 || upd.body.meta.versionId !== '2') {
        problems.push(`update ${c.type}/${c.id}: ${upd.status}`);
        continue;
      }
      const history = await fhir.get(`${c.type}/${c.id}/_history`);
      const versions = (history.body.entry ?? []).map((e: any) => e.resource?.meta?.versionId);
      if (JSON.stringify(versions) !== '["2","1"]') problems.push(`history ${c.type}/${c.id}: ${versions}`);
    }
    expect(problems).toEqual([]);
  }, 900_000);

  it('164.312(a)(2)(iv) · [NPRM] encryption at rest: the stored database holds none of the fixture PHI', async () => {
    const phi = syntheaPhiStrings();
    expect(phi.length).toBeGreaterThan(100);
    let haystack: Buffer;
    if (engine === 'postgres') {
      haystack = execFileSync('pg_dump', ['--dbname', t.ownerUrl as string, '--no-owner'], { maxBuffer: 1024 * 1024 * 1024 });
      // The dump must really hold the data (ciphertext) for the check to mean anything.
      expect(haystack.length).toBeGreaterThan(5_000_000);
    } else {
      haystack = Buffer.concat(filesUnder(join(t.config.dataDir, 'pglite')).map((f) => readFileSync(f)));
      expect(haystack.length).toBeGreaterThan(5_000_000);
    }
    const found = phi.filter((s) => haystack.includes(Buffer.from(s, 'utf8')));
    expect(found).toEqual([]);
    // The search indexes are populated: their rows are in the dump, as hashes only.
    const { rows } = await t.ward.db.query<{ n: unknown }>('SELECT count(*) AS n FROM ward_search_blind');
    expect(Number(rows[0]?.n)).toBeGreaterThan(1000);
  }, 300_000);

  it('finds fixture patients by name prefix, identifier and birth date, though none of those is stored in plaintext', async () => {
    const problems: string[] = [];
    for (const c of created.filter((x) => x.type === 'Patient')) {
      const p = c.sent;
      const mrn = p.identifier.find((i: any) => i.type?.coding?.[0]?.code === 'MR') ?? p.identifier[0];
      const searches = [
        `Patient?family=${encodeURIComponent(p.name[0].family.slice(0, 4))}`,
        `Patient?identifier=${encodeURIComponent(`${mrn.system}|${mrn.value}`)}`,
        `Patient?birthdate=${p.birthDate}&given=${encodeURIComponent(p.name[0].given[0])}`,
        `Patient?birthdate=${p.birthDate.slice(0, 4)}`,
      ];
      for (const url of searches) {
        const res = await fhir.get(`${url}&_count=500`);
        const ids = (res.body.entry ?? []).map((e: any) => e.resource.id);
        if (res.status !== 200 || !ids.includes(c.id)) problems.push(`${url} missed ${c.id}`);
        if (url.includes('identifier') && ids.length !== 1) problems.push(`${url} found ${ids.length}`);
      }
    }
    expect(problems).toEqual([]);
  }, 300_000);
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}
