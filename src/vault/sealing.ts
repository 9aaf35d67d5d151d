import { IntegrityError, type Keyring, open, seal, UnknownKeyError } from '../crypto/index.js';
import { type FhirResource, WardError } from '../fhir/index.js';
import type { StoredVersion } from '../store/index.js';

/**
 * Resource bodies are sealed with AES-256-GCM under the active data key. The AAD binds the
 * ciphertext to `resourceType/id/versionId`, so a ciphertext copied to another row, or a row
 * renumbered, fails to open (ARCHITECTURE.md, Keys).
 */
function aad(resourceType: string, id: string, versionId: number): Buffer {
  return Buffer.from(`ward:resource:v1:${resourceType}/${id}/${versionId}`);
}

export function sealResource(keyring: Keyring, resource: FhirResource & { id: string }, versionId: number) {
  const box = seal(keyring.activeDataKey(), Buffer.from(JSON.stringify(resource)), aad(resource.resourceType, resource.id, versionId));
  return { keyId: box.keyId, iv: box.iv, ciphertext: box.ciphertext };
}

/** Opens a stored version; tampering surfaces as WARD_INTEGRITY_FAILURE, never as altered data. */
export function openResource(keyring: Keyring, row: StoredVersion): FhirResource {
  if (row.deleted || !row.body || !row.iv || !row.keyId) throw new WardError('WARD_GONE');
  try {
    const plaintext = open(
      keyring.dataKey(row.keyId),
      { keyId: row.keyId, iv: row.iv, ciphertext: row.body },
      aad(row.resourceType, row.id, row.versionId),
    );
    return JSON.parse(plaintext.toString('utf8')) as FhirResource;
  } catch (e) {
    if (e instanceof IntegrityError || e instanceof UnknownKeyError || e instanceof SyntaxError)
      throw new WardError('WARD_INTEGRITY_FAILURE', { cause: e });
    throw e;
  }
}
