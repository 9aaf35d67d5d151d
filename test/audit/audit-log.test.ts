import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEntry, AuditLog, AuditUnavailableError } from '../../src/audit/index.js';
import { lastAuditSeq } from '../support/audit-rows.js';
import { engines, openTestWard, type TestWard } from '../support/engines.js';

const entry = (principal: string): AuditEntry => ({
  time: new Date().toISOString(),
  who: { id: principal, kind: 'operator', roles: [] },
  action: 'migrate',
  where: { listener: 'cli' },
  purposeOfUse: 'HOPERAT',
  decision: { effect: 'none', reasons: [] },
  outcome: { status: 200 },
});

describe.each(engines())('the audit log batch on %s', (engine) => {
  let t: TestWard;

  beforeAll(async () => {
    t = await openTestWard(engine);
  }, 60_000);
  afterAll(() => t?.close());

  it('commits the entries batched with one the store refuses for its content, and refuses only that one', async () => {
    const log = new AuditLog(t.ward.db, { maxBatch: 10 });
    const before = await lastAuditSeq(t.ward);
    // A NUL byte is refused by PostgreSQL text columns (SQLSTATE 22021): the row's own fault.
    const results = await Promise.allSettled([
      log.record(entry('operator:first')),
      log.record(entry('operator:bad\u0000byte')),
      log.record(entry('operator:third')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(AuditUnavailableError);
    expect(await lastAuditSeq(t.ward)).toBe(before + 2);
    await log.close();
  });
});
