import { type Keyring, open, seal } from '../crypto/index.js';
import type { StoredArtifact } from '../store/index.js';

/**
 * How the authorization server keeps what it stores. A token, code or grant is found by an
 * HMAC-SHA-256 of its value under the blind-index key (label `oauth-artifact`), so a dump holds
 * no value a client could present (170.315(d)(12)); its payload (scopes, user, launch context) is
 * sealed with AES-256-GCM under the active data key, the AAD binding it to its kind and key hash.
 */
export function artifactKey(keyring: Keyring, id: string): Buffer {
  return keyring.blindIndexer.hash('oauth-artifact', id);
}

/** Grant ids and interaction uids are looked up too: keyed hashes under their own labels. */
export function artifactLookupKey(keyring: Keyring, label: 'oauth-grant' | 'oauth-uid' | 'oauth-user-code', value: string): Buffer {
  return keyring.blindIndexer.hash(label, value);
}

function aad(kind: string, idHash: Buffer): Buffer {
  return Buffer.from(`ward:oauth-artifact:v1:${kind}:${idHash.toString('hex')}`);
}

export function sealArtifact(keyring: Keyring, kind: string, idHash: Buffer, payload: unknown) {
  return seal(keyring.activeDataKey(), Buffer.from(JSON.stringify(payload)), aad(kind, idHash));
}

export function openArtifact(keyring: Keyring, row: StoredArtifact): Record<string, unknown> {
  const plaintext = open(keyring.dataKey(row.keyId), { keyId: row.keyId, iv: row.iv, ciphertext: row.payload }, aad(row.kind, row.idHash));
  return JSON.parse(plaintext.toString('utf8')) as Record<string, unknown>;
}
