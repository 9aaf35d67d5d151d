import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, openPglite } from '../../src/store/index.js';

const hashOf = (s: string) => createHash('sha256').update(s).digest();

describe('upgrading the blind index to one row per resource and parameter (migration 22)', () => {
  it('regroups every hash row under its resource and parameter, losing none and adding none, and the GIN lookup finds them', async () => {
    const db = await openPglite('memory://');
    try {
      await migrate(
        db,
        MIGRATIONS.filter((m) => m.version < 22),
      );
      const rows = [
        ['Patient', 'a', 'name', 'smith'],
        ['Patient', 'a', 'name', 'smi'],
        ['Patient', 'a', 'identifier', 'mrn-1'],
        ['Patient', 'b', 'name', 'smi'],
        ['Observation', 'a', 'code:text', 'body height'],
      ] as const;
      for (const [type, id, param, value] of rows) {
        await db.query('INSERT INTO ward_search_blind (resource_type, id, param, hash) VALUES ($1, $2, $3, $4)', [
          type,
          id,
          param,
          hashOf(value),
        ]);
      }
      await migrate(db);
      const { rows: grouped } = await db.query<{ resource_type: string; id: string; param: string; hashes: Buffer[] }>(
        'SELECT resource_type, id, param, hashes FROM ward_search_blind ORDER BY resource_type, id, param',
      );
      const expected = new Map<string, string[]>();
      for (const [type, id, param, value] of rows) {
        const key = `${type}/${id}/${param}`;
        expected.set(key, [...(expected.get(key) ?? []), hashOf(value).toString('hex')].sort());
      }
      expect(
        new Map(grouped.map((g) => [`${g.resource_type}/${g.id}/${g.param}`, g.hashes.map((h) => Buffer.from(h).toString('hex')).sort()])),
      ).toEqual(expected);
      const { rows: found } = await db.query<{ id: string }>(
        "SELECT id FROM ward_search_blind WHERE resource_type = 'Patient' AND param = 'name' AND hashes && $1::bytea[] ORDER BY id",
        [[hashOf('smi')]],
      );
      expect(found.map((r) => r.id)).toEqual(['a', 'b']);
    } finally {
      await db.close();
    }
  }, 60_000);
});
