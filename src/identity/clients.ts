import { randomUUID } from 'node:crypto';
import { WardError } from '../fhir/index.js';
import { parseScopes, ScopeSyntaxError } from '../policy/index.js';
import {
  type ClientRow,
  type ClientState,
  type Database,
  deleteArtifactsOfClient,
  findClient,
  insertClient,
  setClientState,
} from '../store/index.js';
import type { CredentialContext } from './credential-audit.js';
import type { OAuthAudit } from './oauth-audit.js';

/** Signing algorithms a client assertion may use (SMART Backend Services: RS384 and ES384). */
export const CLIENT_ASSERTION_ALGS = ['RS384', 'ES384'] as const;

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_TEXT = 200;
const CLIENT_ID = /^[A-Za-z0-9._-]{1,100}$/;

export interface RegisterClientRequest {
  readonly name: string;
  readonly owner: string;
  readonly purpose?: string;
  /** The most this client may ever be granted (space-separated SMART scopes). */
  readonly scope: string;
  /** A public JWKS (JSON text) for private_key_jwt, or a JWKS URL (https). */
  readonly jwks?: string;
  readonly jwksUri?: string;
  readonly redirectUris?: readonly string[];
  /** `approved` for an operator's own registration (`ward client create`); `pending` awaits approval. */
  readonly state: 'pending' | 'approved';
}

export interface ClientRegistryDeps {
  readonly db: Database;
  readonly audit: OAuthAudit;
  readonly now: () => Date;
}

function invalid(diagnostics: string): WardError {
  return new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics }] });
}

/**
 * The client registry (third-party app governance, issue 5 item 7): who owns an app, what it is
 * for, the most it may be granted, how it authenticates, and whether it may act at all. Every
 * change commits with its audit entry. Suspension deletes the client's tokens, codes and grants
 * in the same transaction, and the bearer check reads the client's state on every request, so a
 * suspended app loses access at once.
 */
export class ClientRegistry {
  readonly #deps: ClientRegistryDeps;

  constructor(deps: ClientRegistryDeps) {
    this.#deps = deps;
  }

  async register(operatorId: string, ctx: CredentialContext, request: RegisterClientRequest): Promise<ClientRow> {
    const { db, audit, now } = this.#deps;
    const actor = { kind: 'operator', id: operatorId } as const;
    try {
      const row = planClient(request, randomUUID(), now());
      await db.transaction(async (tx) => {
        await insertClient(tx, row);
        await audit.record(
          ctx,
          {
            action: 'client-create',
            actor,
            status: 201,
            detail: {
              clientId: row.clientId,
              state: row.state,
              scopeCeiling: row.scopeCeiling,
              authMethod: row.tokenEndpointAuthMethod,
              keys: row.jwksUri ? 'jwks_uri' : 'inline jwks',
            },
          },
          tx,
        );
      });
      return { ...row, stateChangedAt: row.createdAt, lastUsedAt: null };
    } catch (e) {
      if (e instanceof WardError) await audit.record(ctx, { action: 'client-create', actor, status: e.status, code: e.code, detail: {} });
      throw e;
    }
  }

  async suspend(operatorId: string, ctx: CredentialContext, clientId: string): Promise<{ revoked: number }> {
    const { db, audit, now } = this.#deps;
    const actor = { kind: 'operator', id: operatorId } as const;
    const result = await db.transaction(async (tx) => {
      const client = /^[A-Za-z0-9._-]{1,100}$/.test(clientId) ? await findClient(tx, clientId, true) : undefined;
      if (!client) return undefined;
      if (client.state !== 'suspended') await setClientState(tx, clientId, 'suspended', now());
      const revoked = await deleteArtifactsOfClient(tx, clientId);
      await audit.record(
        ctx,
        {
          action: 'client-suspend',
          actor,
          status: 200,
          detail: { clientId, previousState: client.state, revokedArtifacts: String(revoked) },
        },
        tx,
      );
      return { revoked };
    });
    if (!result) {
      await audit.record(ctx, { action: 'client-suspend', actor, status: 404, code: 'WARD_NOT_FOUND', detail: {} });
      throw new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No client has that id' }] });
    }
    return result;
  }

  /**
   * Approves a pending client (the review of a third-party registration): from now on it may get
   * tokens. Approving an approved client changes nothing and answers as before (idempotent, so a
   * retried call is harmless; the audit entry says it was already approved). A suspended client is
   * refused (409 WARD_CLIENT_SUSPENDED): suspension is final, a reviewed app registers again.
   * The CLI, the admin socket and `POST /admin/clients/{id}/approve` all come here.
   */
  async approve(operatorId: string, ctx: CredentialContext, clientId: string): Promise<{ previousState: ClientState }> {
    const { db, audit, now } = this.#deps;
    const actor = { kind: 'operator', id: operatorId } as const;
    const wellFormed = CLIENT_ID.test(clientId);
    type Outcome = { readonly refused: WardError } | { readonly previousState: ClientState };
    const outcome = await db.transaction(async (tx): Promise<Outcome> => {
      const client = wellFormed ? await findClient(tx, clientId, true) : undefined;
      if (!client) return { refused: new WardError('WARD_NOT_FOUND', { details: [{ diagnostics: 'No client has that id' }] }) };
      if (client.state === 'suspended') return { refused: new WardError('WARD_CLIENT_SUSPENDED') };
      if (client.state === 'pending') await setClientState(tx, clientId, 'approved', now());
      await audit.record(ctx, { action: 'client-approve', actor, status: 200, detail: { clientId, previousState: client.state } }, tx);
      return { previousState: client.state };
    });
    if ('refused' in outcome) {
      const e = outcome.refused;
      // The id is named only when it has the shape of one (never arbitrary caller text).
      await audit.record(ctx, { action: 'client-approve', actor, status: e.status, code: e.code, detail: wellFormed ? { clientId } : {} });
      throw e;
    }
    return outcome;
  }

  /**
   * For the audit of an `invalid_client` refusal: the state of a registered client that may not act
   * (`pending` or `suspended`), so the entry tells "awaiting approval" from "revoked" from unknown.
   */
  async inactiveStateOf(clientId: string): Promise<ClientState | undefined> {
    if (!CLIENT_ID.test(clientId)) return undefined;
    const state = (await findClient(this.#deps.db, clientId))?.state;
    return state === 'approved' ? undefined : state;
  }

  find(clientId: string): Promise<ClientRow | undefined> {
    return findClient(this.#deps.db, clientId);
  }
}

/** `{ clientState }` when an `invalid_client` refusal names a registered client that is pending or suspended. */
export async function clientStateNote(
  clients: ClientRegistry,
  clientId: string | undefined,
  error: unknown,
): Promise<{ clientState?: string }> {
  if (error !== 'invalid_client' || !clientId) return {};
  const state = await clients.inactiveStateOf(clientId);
  return state ? { clientState: state } : {};
}

/** Checks a registration and builds its row; pure. */
export function planClient(r: RegisterClientRequest, clientId: string, at: Date): Omit<ClientRow, 'lastUsedAt' | 'stateChangedAt'> {
  const name = r.name.normalize('NFKC').trim();
  if (name.length < 1 || name.length > MAX_TEXT) throw invalid('A client name has 1 to 200 characters');
  const owner = r.owner.trim();
  if (owner.length < 1 || owner.length > MAX_TEXT) throw invalid('A client owner has 1 to 200 characters');
  const purpose = (r.purpose ?? '').trim();
  if (purpose.length > 1000) throw invalid('A purpose has at most 1000 characters');
  let scopes: ReturnType<typeof parseScopes>;
  try {
    scopes = parseScopes(r.scope);
  } catch (e) {
    if (e instanceof ScopeSyntaxError) throw invalid('--scope is not a list of SMART scopes');
    throw e;
  }
  if (scopes.resourceScopes.length === 0 && scopes.other.length === 0) throw invalid('--scope names at least one scope');
  const redirectUris = [...(r.redirectUris ?? [])];
  for (const uri of redirectUris) {
    const url = URL.canParse(uri) ? new URL(uri) : undefined;
    if (
      !url ||
      url.hash ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)))
    )
      throw invalid('A redirect URI is an absolute https URL without a fragment (http only on loopback)');
  }
  if (r.jwks !== undefined && r.jwksUri !== undefined) throw invalid('Give a JWKS or a JWKS URL, not both');
  let jwks: string | null = null;
  if (r.jwks !== undefined) jwks = JSON.stringify(checkPublicJwks(r.jwks));
  if (r.jwksUri !== undefined) {
    const url = URL.canParse(r.jwksUri) ? new URL(r.jwksUri) : undefined;
    if (url?.protocol !== 'https:') throw invalid('A JWKS URL must be https');
  }
  const method = jwks !== null || r.jwksUri !== undefined ? 'private_key_jwt' : 'none';
  if (method === 'none' && redirectUris.length === 0) throw invalid('A client without keys is a public app and needs a redirect URI');
  return {
    clientId,
    name,
    owner,
    purpose,
    scopeCeiling: [...scopes.resourceScopes.map((s) => s.text), ...scopes.other].join(' '),
    redirectUris,
    jwks,
    jwksUri: r.jwksUri ?? null,
    tokenEndpointAuthMethod: method,
    state: r.state,
    createdAt: at,
  };
}

/** A JWKS of public RSA or EC P-384 keys only: a private key handed over by mistake is refused, not stored. */
function checkPublicJwks(text: string): { keys: Record<string, unknown>[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('The JWKS file is not JSON');
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 20) throw invalid('A JWKS has a "keys" list of 1 to 20 keys');
  for (const key of keys as Record<string, unknown>[]) {
    if (typeof key !== 'object' || key === null) throw invalid('Each JWKS key is an object');
    if (PRIVATE_JWK_MEMBERS.some((m) => m in key)) throw invalid('The JWKS holds private key material; register the public keys only');
    if (key.kty !== 'RSA' && !(key.kty === 'EC' && key.crv === 'P-384')) throw invalid('Keys are RSA (RS384) or EC P-384 (ES384)');
    if (key.alg !== undefined && !(CLIENT_ASSERTION_ALGS as readonly unknown[]).includes(key.alg))
      throw invalid('Key alg is RS384 or ES384');
  }
  return { keys: keys as Record<string, unknown>[] };
}
