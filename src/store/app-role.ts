import type { Database } from './database.js';

/**
 * On PostgreSQL Ward serves through a login role that is neither superuser nor table owner
 * (invariant 4): it may read and write resources, but on the audit log only INSERT and SELECT,
 * and it cannot disable the append-only triggers or drop the log, because only an owner can.
 * Audit partitions (ADR 0008) get no grant: rows reach them through the parent, whose grants are
 * the ones checked, so no partition, present or created later, can be changed or read directly.
 * Accounts get no DELETE either: a user id is never reissued (164.312(a)(2)(i)). Nor do resource
 * versions or current pointers (164.312(c)(1)): history is destroyed only by the owner's
 * `ward_purge_resource` function (migration 21, ADR 0018), one named resource at a time.
 */
export interface AppRole {
  readonly name: string;
  readonly password: string;
}

export function appRoleName(databaseName: string): string {
  return `ward_app_${databaseName.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

/** Creates or updates the serving role and its grants. Run by `migrate` as the owner. */
export async function provisionAppRole(db: Database, role: AppRole): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role.name)) throw new TypeError('invalid role name');
  if (!/^[A-Za-z0-9_-]{32,}$/.test(role.password)) throw new TypeError('app role password must be 32+ url-safe characters');
  const me = (
    await db.query<{ super: boolean; createrole: boolean; db: string }>(
      `SELECT rolsuper AS super, rolcreaterole AS createrole, current_database() AS db FROM pg_roles WHERE rolname = current_user`,
    )
  ).rows[0];
  if (!me || (!me.super && !me.createrole)) {
    throw new TypeError(
      'DATABASE_URL must name a superuser or a role with CREATEROLE so Ward can create its serving role; otherwise set WARD_APP_DATABASE_URL to a non-owner role you created',
    );
  }
  const exists = (await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role.name])).rowCount > 0;
  // A pre-existing role that belongs to other roles could SET ROLE into more than Ward grants it.
  const memberships = await db.query('SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1', [
    role.name,
  ]);
  if (memberships.rowCount > 0) throw new TypeError(`role ${role.name} is a member of other roles; Ward's serving role must have none`);
  const verb = exists ? 'ALTER' : 'CREATE';
  // Identifiers and the password are validated above; DDL cannot take bind parameters.
  await db.exec(
    `${verb} ROLE ${role.name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS PASSWORD '${role.password}'`,
  );
  await db.exec(`
    GRANT CONNECT ON DATABASE ${quoteIdent(me.db)} TO ${role.name};
    GRANT USAGE ON SCHEMA public TO ${role.name};
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role.name};
    GRANT SELECT, INSERT, UPDATE ON ward_resource TO ${role.name};
    GRANT SELECT, INSERT ON ward_resource_version TO ${role.name};
    REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM ${role.name};
    GRANT EXECUTE ON FUNCTION ward_purge_resource(text, text) TO ${role.name};
    GRANT SELECT, INSERT, DELETE ON ward_search_token, ward_search_date, ward_search_reference, ward_search_number,
      ward_search_uri, ward_search_blind TO ${role.name};
    GRANT SELECT, INSERT ON ward_data_key TO ${role.name};
    GRANT SELECT, INSERT ON ward_audit_entry, ward_audit_head TO ${role.name};
    GRANT SELECT ON ward_audit_archive, ward_audit_archived_leaf TO ${role.name};
    GRANT SELECT ON ward_migration TO ${role.name};
    GRANT SELECT, INSERT ON ward_org_policy TO ${role.name};
    GRANT SELECT, INSERT ON ward_user, ward_enrollment TO ${role.name};
    GRANT UPDATE (status, roles, password_hash, password_set_at, deactivated_at, password_compromised_at) ON ward_user TO ${role.name};
    GRANT UPDATE (used_at) ON ward_enrollment TO ${role.name};
    GRANT SELECT, INSERT, UPDATE ON ward_login_throttle TO ${role.name};
    GRANT SELECT, INSERT ON ward_client TO ${role.name};
    GRANT UPDATE (state, state_changed_at, last_used_at) ON ward_client TO ${role.name};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ward_oauth_artifact TO ${role.name};
    GRANT SELECT, INSERT ON ward_mfa_totp, ward_recovery_code, ward_session, ward_privilege_change TO ${role.name};
    GRANT UPDATE (key_id, iv, secret, created_at, confirmed_at, last_counter) ON ward_mfa_totp TO ${role.name};
    GRANT UPDATE (used_at) ON ward_recovery_code TO ${role.name};
    GRANT UPDATE (last_seen_at, revoked_at, revoked_reason) ON ward_session TO ${role.name};
    GRANT USAGE ON SEQUENCE ward_privilege_change_id_seq TO ${role.name};
    GRANT SELECT, INSERT ON ward_webauthn_credential, ward_webauthn_challenge TO ${role.name};
    GRANT UPDATE (counter, last_used_at) ON ward_webauthn_credential TO ${role.name};
    GRANT UPDATE (used_at) ON ward_webauthn_challenge TO ${role.name};
    GRANT SELECT, INSERT ON ward_break_glass_grant TO ${role.name};
    GRANT UPDATE (review_status, reviewed_by, reviewed_at) ON ward_break_glass_grant TO ${role.name};
    GRANT USAGE ON SEQUENCE ward_version_seq, ward_audit_seq TO ${role.name};
  `);
}

/** Quotes an SQL identifier (doubling embedded quotes), for names DDL cannot take as parameters. */
function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new TypeError('identifier contains a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}
