import type { Database } from './database.js';
import { migration0001 } from './migrations/0001-core.js';
import { migration0002 } from './migrations/0002-audit-heads.js';
import { migration0003 } from './migrations/0003-auditor.js';
import { migration0004 } from './migrations/0004-identity.js';
import { migration0005 } from './migrations/0005-search.js';
import { migration0006 } from './migrations/0006-audit-partitions.js';
import { migration0008 } from './migrations/0008-mfa-sessions.js';
import { migration0009 } from './migrations/0009-search-references.js';
import { migration0010 } from './migrations/0010-drop-identifier-index.js';
import { migration0011 } from './migrations/0011-smart.js';
import { migration0012 } from './migrations/0012-break-glass.js';
import { migration0013 } from './migrations/0013-smart-launch.js';
import { migration0014 } from './migrations/0014-step-up.js';
import { migration0017 } from './migrations/0017-organization-policy.js';
import { migration0019 } from './migrations/0019-password-compromise.js';
import { migration0021 } from './migrations/0021-purge.js';
import { migration0022 } from './migrations/0022-blind-hash-arrays.js';
import { migration0023 } from './migrations/0023-policy-fact-rows.js';
import { migration0024 } from './migrations/0024-reference-target-ids.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
  migration0006,
  migration0008,
  migration0009,
  migration0010,
  migration0011,
  migration0012,
  migration0013,
  migration0014,
  migration0017,
  migration0019,
  migration0021,
  migration0022,
  migration0023,
  migration0024,
];

/** How many months ahead of the current one each migrate creates the audit partitions for (ADR 0008). */
export const AUDIT_PARTITION_MONTHS_AHEAD = 12;

/**
 * Applies pending migrations in order, each in its own transaction. An advisory lock keeps two
 * instances starting together from racing (PGlite has one connection, so it is trivially held).
 * `migrations` is for tests that build an older schema to upgrade.
 */
export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<{ applied: number[] }> {
  await db.exec(`CREATE TABLE IF NOT EXISTS ward_migration (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(7305950417)`);
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM ward_migration')).rows.map((r) => Number(r.version)));
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO ward_migration (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    // The owner creates the coming months' audit partitions: the serving role has no DDL (ADR 0008).
    if (done.has(6) || applied.includes(6))
      await tx.query('SELECT ward_audit_ensure_partitions(now(), $1)', [AUDIT_PARTITION_MONTHS_AHEAD]);
  });
  return { applied };
}

/** Splits on semicolons outside dollar-quoted bodies (the migrations use $fn$ … $fn$). */
function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let inDollar = false;
  for (const line of sql.split('\n')) {
    if (/^\s*--/.test(line)) continue;
    const dollars = line.match(/\$fn\$/g)?.length ?? 0;
    if (dollars % 2 === 1) inDollar = !inDollar;
    current += `${line}\n`;
    if (!inDollar && line.trimEnd().endsWith(';')) {
      out.push(current.trim());
      current = '';
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}
