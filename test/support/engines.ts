import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { loadConfig, type WardConfig } from '../../src/app/config.js';
import { createToken, operatorContext, operatorPrincipal } from '../../src/app/operator-commands.js';
import { buildWardHttpApp } from '../../src/app/server.js';
import { type OpenOptions, openWard, type Ward } from '../../src/app/ward.js';
import type { HttpApp } from '../../src/edge/index.js';
import { withDatabase } from './global-setup.js';

export type EngineName = 'pglite' | 'postgres';

/**
 * A service principal (`system`) with every SMART permission: the policy asks it for no
 * relationship to the patient (ADR 0009), so tests that are not about clinician access use it as
 * their generic actor. Consents still apply to it.
 */
export const SERVICE = { role: 'system', sub: 'system', scope: 'system/*.cruds' } as const;

/** The engines this run covers: PGlite always, PostgreSQL when the global setup reached it. */
export function engines(): EngineName[] {
  return inject('pgTemplate') ? ['pglite', 'postgres'] : ['pglite'];
}

export interface TestWard {
  readonly engine: EngineName;
  readonly ward: Ward;
  readonly http: HttpApp;
  readonly config: WardConfig;
  /** Owner connection to this file's PostgreSQL database (null on PGlite). */
  readonly ownerUrl: string | null;
  /** Sets the fake clock (the default is real time). */
  setNow(date: Date | null): void;
  /** An access token minted through the operator command (and audited like one). */
  token(options: {
    role: string | string[];
    sub: string;
    scope: string;
    patient?: string;
    ttl?: string;
    purposeOfUse?: string;
    organization?: string;
  }): Promise<string>;
  close(): Promise<void>;
}

/** A PostgreSQL database for one test file, cloned from the run's migrated template; returns an owner URL. */
export async function createTestDatabase(): Promise<string> {
  const admin = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  if (!admin || !template) throw new Error('PostgreSQL is not available in this run');
  const database = `${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${database} TEMPLATE ${template}`);
  } finally {
    await client.end();
  }
  return withDatabase(admin, database);
}

/**
 * A Ward on one engine, in a fresh data directory: PGlite on disk in that directory, or a
 * PostgreSQL database cloned from the run's migrated template. Served through Fastify inject.
 */
export async function openTestWard(
  engine: EngineName,
  env: Record<string, string> = {},
  options: Pick<OpenOptions, 'passwordHasher' | 'addressThrottle'> = {},
): Promise<TestWard> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ward-test-'));
  const ownerUrl = engine === 'postgres' ? await createTestDatabase() : null;
  const config = loadConfig(
    {
      WARD_DATA_DIR: dataDir,
      WARD_BASE_URL: 'https://ward.test',
      WARD_LOG_LEVEL: 'silent',
      ...(ownerUrl ? { DATABASE_URL: ownerUrl, WARD_DB_POOL_SIZE: '8' } : {}),
      ...env,
    },
    dataDir,
  );
  let fakeNow: Date | null = null;
  const now = () => fakeNow ?? new Date();
  const ward = await openWard(config, { ...options, now, migrate: true });
  const http = await buildWardHttpApp(ward, { logger: false });
  return {
    engine,
    ward,
    http,
    config,
    ownerUrl,
    setNow(date) {
      fakeNow = date;
    },
    token: ({ role, sub, scope, patient, ttl, purposeOfUse, organization }) =>
      createToken(ward, operatorPrincipal('test'), operatorContext('cli'), {
        roles: [role].flat(),
        sub,
        scope,
        ...(patient ? { patient } : {}),
        ...(ttl ? { ttl } : {}),
        ...(purposeOfUse ? { purposeOfUse } : {}),
        ...(organization ? { organization } : {}),
      }),
    async close() {
      await http.app.close();
      await ward.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
