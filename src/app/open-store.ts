import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoleName, type Database, migrate, openPglite, openPostgres, provisionAppRole } from '../store/index.js';
import type { WardConfig } from './config.js';

/** The serving database, and the migrations this opening applied (as the owner). */
export interface OpenedStore {
  readonly db: Database;
  readonly applied: readonly number[];
}

/**
 * Opens the database the server will use. Embedded: PGlite in $WARD_DATA_DIR/pglite, migrated in
 * place. PostgreSQL: migrations run as the DATABASE_URL role, and the server then connects as a
 * separate non-owner role (WARD_APP_DATABASE_URL, or one provisioned here), so a compromised
 * process cannot disable the audit triggers or drop the log.
 */
export async function openStore(config: WardConfig, options: { migrate: boolean }): Promise<OpenedStore> {
  if (!config.databaseUrl) {
    const db = await openPglite(join(config.dataDir, 'pglite'));
    const applied = options.migrate ? (await migrate(db)).applied : [];
    return { db, applied };
  }
  let applied: number[] = [];
  let servingUrl = config.appDatabaseUrl;
  if (options.migrate || !servingUrl) {
    const owner = openPostgres(config.databaseUrl, { max: 2, applicationName: 'ward-migrate' });
    try {
      applied = (await migrate(owner)).applied;
      if (!servingUrl) {
        const url = new URL(config.databaseUrl);
        const role = {
          name: appRoleName(decodeURIComponent(url.pathname.slice(1)) || 'postgres'),
          password: appRolePassword(config.dataDir),
        };
        await provisionAppRole(owner, role);
        url.username = role.name;
        url.password = role.password;
        servingUrl = url.toString();
      }
    } finally {
      await owner.close();
    }
  }
  return { db: openPostgres(servingUrl, { max: config.dbPoolSize }), applied };
}

/** The serving role's password, generated once and kept in the data directory (0600). */
function appRolePassword(dataDir: string): string {
  const path = join(dataDir, 'keys', 'db-app-password');
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  const password = randomBytes(32).toString('base64url');
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  return password;
}
