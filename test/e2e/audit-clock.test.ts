import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openWard } from '../../src/app/ward.js';
import { createTestDatabase, engines, openTestWard, type TestWard } from '../support/engines.js';
import { fhirClient } from '../support/fhir-client.js';

const FIVE_MINUTES = 5 * 60 * 1000;

describe.each(engines())('170.210(g): audit times come from a clock checked against the database server on %s', (engine) => {
  let t: TestWard;
  beforeAll(async () => {
    t = await openTestWard(engine);
  }, 60_000);
  afterAll(() => t?.close());

  it('reports a synchronised clock and its offset in /healthz', async () => {
    const health = await fhirClient(t).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.clock).toMatchObject({ synchronized: true, limitMs: 1000, reference: 'database server' });
    expect(Math.abs(health.body.clock.offsetMs)).toBeLessThan(1000);
    expect(health.body.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('reports a host clock five minutes off as degraded, with the offset', async () => {
    t.setNow(new Date(Date.now() + FIVE_MINUTES));
    try {
      await t.ward.recheckClock();
      const health = await fhirClient(t).get('/healthz');
      expect(health.body.status).toBe('degraded');
      expect(health.body.clock.synchronized).toBe(false);
      expect(health.body.clock.offsetMs).toBeGreaterThan(FIVE_MINUTES - 5000);
    } finally {
      t.setNow(null);
      await t.ward.recheckClock();
    }
  });

  it('refuses to start in production mode when the host clock is off by more than the limit', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ward-clock-'));
    try {
      const config = loadConfig(
        {
          WARD_ENV: 'production',
          WARD_DATA_DIR: dataDir,
          WARD_ROOT_KEY_FILE: join(dataDir, 'keys', 'root.key'),
          WARD_LOG_LEVEL: 'silent',
          ...(engine === 'postgres' ? { DATABASE_URL: await createTestDatabase() } : {}),
        },
        dataDir,
      );
      await expect(openWard(config, { now: () => new Date(Date.now() - FIVE_MINUTES) })).rejects.toThrow(
        /clock is -3\d{5} ms off the database server's \(limit 1000 ms\)/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
