import { createHash } from 'node:crypto';
import { type Keyring, open, seal } from '../crypto/index.js';
import type { UserRow } from '../store/index.js';

/** What identifies a person behind an account; stored only sealed (AES-256-GCM), never in plaintext. */
export interface UserProfile {
  readonly username: string;
  readonly name: string;
}

/** The AAD binds a sealed profile to its account, so a profile copied to another row does not open. */
function aad(userId: string): Buffer {
  return Buffer.from(`ward:user-profile:v1:${userId}`);
}

export function sealProfile(keyring: Keyring, userId: string, profile: UserProfile) {
  return seal(keyring.activeDataKey(), Buffer.from(JSON.stringify(profile)), aad(userId));
}

export function openProfile(keyring: Keyring, user: UserRow): UserProfile {
  const plaintext = open(
    keyring.dataKey(user.profileKeyId),
    { keyId: user.profileKeyId, iv: user.profileIv, ciphertext: user.profile },
    aad(user.id),
  );
  return JSON.parse(plaintext.toString('utf8')) as UserProfile;
}

/** The look-up key of a (folded) username: HMAC-SHA-256 under the blind-index key. */
export function usernameIndex(keyring: Keyring, folded: string): Buffer {
  return keyring.blindIndexer.hash('user-username', folded);
}

/** How a username that matches no account appears in the audit log: a keyed hash, like the vault's unconfirmed ids. */
export function auditUsernameHash(keyring: Keyring, typed: string): string {
  return `hmac:${keyring.blindIndexer.hash('audit-username', typed).toString('hex').slice(0, 32)}`;
}

/** Enrollment codes are stored only as their SHA-256 digest (a 256-bit random code needs no salt or slow hash). */
export function enrollmentCodeHash(code: string): Buffer {
  return createHash('sha256').update(code, 'utf8').digest();
}
