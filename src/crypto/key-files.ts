import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Loads a PEM private key from `path`, or generates one (mode 0600) on first start.
 * Used for the audit signing key (Ed25519) and the access-token signing key (ECDSA P-256).
 */
export function loadOrCreatePrivateKey(path: string, kind: 'ed25519' | 'ec-p256'): { privateKey: KeyObject; publicKey: KeyObject } {
  try {
    const privateKey = createPrivateKey(readFileSync(path, 'utf8'));
    return { privateKey, publicKey: createPublicKey(privateKey) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  return pair;
}
