import type { Keyring } from '../crypto/index.js';
import {
  type ClientRow,
  consumeArtifact,
  type Database,
  deleteArtifact,
  deleteArtifactsOfGrant,
  findArtifact,
  findArtifactBy,
  findClient,
  findLiveAccessToken,
  type StoredArtifact,
  upsertArtifact,
} from '../store/index.js';
import { artifactKey, artifactLookupKey, openArtifact, sealArtifact } from './oauth-sealing.js';

export interface AdapterDeps {
  readonly db: Database;
  readonly keyring: Keyring;
  readonly now: () => Date;
}

type Payload = Record<string, unknown>;

/** Token kinds that stop working when their client is suspended or their user deactivated. */
const ACCESS_KINDS = new Set(['AccessToken', 'ClientCredentials']);

/**
 * The storage adapter oidc-provider calls (its documented adapter interface), over
 * ward_oauth_artifact and the client registry. `Client` reads the registry (only approved
 * clients exist for the protocol); `ReplayDetection` is a no-op because Ward records
 * client-assertion ids itself, atomically (see smart-provider.ts); every other model is a sealed
 * row found by keyed hashes.
 */
export function oauthAdapterFactory(deps: AdapterDeps): (name: string) => object {
  return (name: string) => {
    if (name === 'Client') return new ClientAdapter(deps);
    if (name === 'ReplayDetection') return new NoOpAdapter();
    return new ArtifactAdapter(name, deps);
  };
}

class ArtifactAdapter {
  readonly #kind: string;
  readonly #deps: AdapterDeps;

  constructor(kind: string, deps: AdapterDeps) {
    this.#kind = kind;
    this.#deps = deps;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const { db, keyring, now } = this.#deps;
    const idHash = artifactKey(keyring, id);
    const box = sealArtifact(keyring, this.#kind, idHash, payload);
    const str = (key: string) => (typeof payload[key] === 'string' ? (payload[key] as string) : undefined);
    const grantId = str('grantId');
    const uid = str('uid');
    const userCode = str('userCode');
    await upsertArtifact(db, {
      kind: this.#kind,
      idHash,
      grantHash: grantId ? artifactLookupKey(keyring, 'oauth-grant', grantId) : null,
      uidHash: uid ? artifactLookupKey(keyring, 'oauth-uid', uid) : null,
      userCodeHash: userCode ? artifactLookupKey(keyring, 'oauth-user-code', userCode) : null,
      clientId: str('clientId') ?? null,
      accountId: str('accountId') ?? null,
      keyId: box.keyId,
      iv: box.iv,
      payload: box.ciphertext,
      expiresAt: expiresIn ? new Date(now().getTime() + expiresIn * 1000) : null,
    });
  }

  async find(id: string): Promise<Payload | undefined> {
    const { db, keyring } = this.#deps;
    const idHash = artifactKey(keyring, id);
    if (ACCESS_KINDS.has(this.#kind)) {
      // Introspection and userinfo see what the bearer check sees: nothing once the client is
      // suspended or the user deactivated.
      const live = await findLiveAccessToken(db, idHash);
      if (!live || live.artifact.kind !== this.#kind) return undefined;
      if (live.clientState !== 'approved' || (live.artifact.accountId !== null && live.accountStatus !== 'active')) return undefined;
      return this.#open(live.artifact);
    }
    const row = await findArtifact(db, this.#kind, idHash);
    if (row && this.#kind === 'RefreshToken' && row.clientId) {
      const client = await findClient(db, row.clientId);
      if (client?.state !== 'approved') return undefined;
    }
    return row ? this.#open(row) : undefined;
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const row = await findArtifactBy(this.#deps.db, this.#kind, 'uid_hash', artifactLookupKey(this.#deps.keyring, 'oauth-uid', uid));
    return row ? this.#open(row) : undefined;
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const hash = artifactLookupKey(this.#deps.keyring, 'oauth-user-code', userCode);
    const row = await findArtifactBy(this.#deps.db, this.#kind, 'user_code_hash', hash);
    return row ? this.#open(row) : undefined;
  }

  async consume(id: string): Promise<void> {
    await consumeArtifact(this.#deps.db, this.#kind, artifactKey(this.#deps.keyring, id), this.#deps.now());
  }

  async destroy(id: string): Promise<void> {
    await deleteArtifact(this.#deps.db, this.#kind, artifactKey(this.#deps.keyring, id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await deleteArtifactsOfGrant(this.#deps.db, artifactLookupKey(this.#deps.keyring, 'oauth-grant', grantId));
  }

  #open(row: StoredArtifact): Payload | undefined {
    const nowMs = this.#deps.now().getTime();
    if (row.expiresAt && row.expiresAt.getTime() <= nowMs) return undefined;
    const payload = openArtifact(this.#deps.keyring, row);
    return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload;
  }
}

/** oidc-provider's view of a registered client: only an approved client exists for the protocol. */
class ClientAdapter {
  readonly #deps: AdapterDeps;

  constructor(deps: AdapterDeps) {
    this.#deps = deps;
  }

  async find(id: string): Promise<Payload | undefined> {
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) return undefined;
    const row = await findClient(this.#deps.db, id);
    return row?.state === 'approved' ? clientMetadata(row) : undefined;
  }

  async upsert(): Promise<void> {
    throw new TypeError('clients are registered through the client registry, not the protocol');
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

export function clientMetadata(row: ClientRow): Payload {
  const confidential = row.tokenEndpointAuthMethod === 'private_key_jwt';
  const interactive = row.redirectUris.length > 0;
  return {
    client_id: row.clientId,
    client_name: row.name,
    token_endpoint_auth_method: row.tokenEndpointAuthMethod,
    ...(row.jwks ? { jwks: JSON.parse(row.jwks) } : {}),
    ...(row.jwksUri ? { jwks_uri: row.jwksUri } : {}),
    redirect_uris: [...row.redirectUris],
    grant_types: [...(confidential ? ['client_credentials'] : []), ...(interactive ? ['authorization_code', 'refresh_token'] : [])],
    response_types: interactive ? ['code'] : [],
    id_token_signed_response_alg: 'ES256',
  };
}

class NoOpAdapter {
  async upsert(): Promise<void> {}
  async find(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}
