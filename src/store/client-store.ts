import { asDate, type Queryable } from './database.js';

/** A registered client application (ward_client, migration 11). */
export type ClientState = 'pending' | 'approved' | 'suspended';
export type ClientAuthMethod = 'private_key_jwt' | 'none';

export interface ClientRow {
  readonly clientId: string;
  readonly name: string;
  readonly owner: string;
  readonly purpose: string;
  readonly scopeCeiling: string;
  readonly redirectUris: readonly string[];
  /** The public JWKS as JSON text, when given inline. */
  readonly jwks: string | null;
  readonly jwksUri: string | null;
  readonly tokenEndpointAuthMethod: ClientAuthMethod;
  readonly state: ClientState;
  readonly createdAt: Date;
  readonly stateChangedAt: Date;
  readonly lastUsedAt: Date | null;
}

const COLUMNS = `client_id, name, owner, purpose, scope_ceiling, redirect_uris, jwks, jwks_uri, token_endpoint_auth_method,
  state, created_at, state_changed_at, last_used_at`;

function rowOf(r: Record<string, unknown>): ClientRow {
  return {
    clientId: String(r.client_id),
    name: String(r.name),
    owner: String(r.owner),
    purpose: String(r.purpose),
    scopeCeiling: String(r.scope_ceiling),
    redirectUris: (r.redirect_uris as string[] | null) ?? [],
    jwks: r.jwks === null ? null : String(r.jwks),
    jwksUri: r.jwks_uri === null ? null : String(r.jwks_uri),
    tokenEndpointAuthMethod: String(r.token_endpoint_auth_method) as ClientAuthMethod,
    state: String(r.state) as ClientState,
    createdAt: asDate(r.created_at),
    stateChangedAt: asDate(r.state_changed_at),
    lastUsedAt: r.last_used_at === null ? null : asDate(r.last_used_at),
  };
}

export async function insertClient(q: Queryable, c: Omit<ClientRow, 'lastUsedAt' | 'stateChangedAt'>): Promise<void> {
  await q.query(`INSERT INTO ward_client (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, NULL)`, [
    c.clientId,
    c.name,
    c.owner,
    c.purpose,
    c.scopeCeiling,
    [...c.redirectUris],
    c.jwks,
    c.jwksUri,
    c.tokenEndpointAuthMethod,
    c.state,
    c.createdAt,
  ]);
}

export async function findClient(q: Queryable, clientId: string, forUpdate = false): Promise<ClientRow | undefined> {
  const { rows } = await q.query(
    `SELECT ${COLUMNS} FROM ward_client WHERE client_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [clientId],
    forUpdate ? undefined : 'ward-client-find',
  );
  return rows[0] ? rowOf(rows[0]) : undefined;
}

/** Every registered client, oldest first, up to `limit` (the admin API's list). */
export async function listClients(q: Queryable, limit: number): Promise<ClientRow[]> {
  const { rows } = await q.query(`SELECT ${COLUMNS} FROM ward_client ORDER BY created_at, client_id LIMIT $1`, [limit]);
  return rows.map(rowOf);
}

export async function setClientState(q: Queryable, clientId: string, state: ClientState, at: Date): Promise<void> {
  await q.query('UPDATE ward_client SET state = $2, state_changed_at = $3 WHERE client_id = $1', [clientId, state, at]);
}

/** Last use is kept at minute precision: one write per client per minute, not one per request. */
export async function touchClient(q: Queryable, clientId: string, at: Date): Promise<void> {
  await q.query(
    `UPDATE ward_client SET last_used_at = $2 WHERE client_id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`,
    [clientId, at],
    'ward-client-touch',
  );
}
