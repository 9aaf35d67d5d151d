import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWard } from '../../src/app/ward.js';
import { auditRowsAfter } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';

describe.each(engines())('key operations on %s', (engine) => {
  let t: TestWard;
  beforeAll(async () => {
    t = await openTestWard(engine);
  });
  afterAll(async () => t.close());

  it('audits the creation of the data key and the blind-index key on first start, naming ids, never key bytes', async () => {
    const rows = (await auditRowsAfter(t.ward)).filter((r) => r.action === 'key-create');
    expect(rows.map((r) => r.parsed.detail.purpose).sort()).toEqual(['blind-index', 'data']);
    const { rows: keys } = await t.ward.db.query<{ key_id: string }>('SELECT key_id FROM ward_data_key');
    expect(rows.map((r) => r.parsed.detail.keyId).sort()).toEqual(keys.map((k) => k.key_id).sort());
    for (const r of rows) {
      expect(r.parsed.who.id).toBe('ward:system');
      expect(Object.keys(r.parsed.detail).sort()).toEqual(['kekId', 'keyId', 'purpose']);
    }
  });

  it('creates and audits no key when it opens an existing store again', async () => {
    if (engine === 'pglite') return; // one process owns the embedded store; reopening is covered by the process test
    const before = (await auditRowsAfter(t.ward)).filter((r) => r.action === 'key-create').length;
    const again = await openWard(t.config, { migrate: true });
    try {
      expect((await auditRowsAfter(again)).filter((r) => r.action === 'key-create')).toHaveLength(before);
    } finally {
      await again.close();
    }
  });
});
