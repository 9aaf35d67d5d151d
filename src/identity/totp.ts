import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { type Keyring, open, type SealedBox, seal } from '../crypto/index.js';

/**
 * TOTP (RFC 6238) as every authenticator app speaks it: HMAC-SHA-1, 6 digits, 30-second steps,
 * a 160-bit secret (RFC 4226 §4 recommends 160 bits). A code is accepted one step either side of
 * now (clock drift) and only once: the caller records the step it matched.
 *
 * HMAC-SHA-1 here is the one SHA-1 use in Ward, and it is an HMAC, not a signature or a digest:
 * NIST SP 800-131A Rev. 2 keeps HMAC-SHA-1 acceptable, and authenticator apps widely ignore any
 * other TOTP algorithm. The static algorithm scan (test/e2e/encryption-at-rest.test.ts) allows
 * exactly this constant and nothing else.
 */
export const TOTP_HMAC = 'SHA1';
const PERIOD_SECONDS = 30;
const DIGITS = 6;
const ISSUER = 'Ward';
/** Steps either side of the current one that still match (±30 s). */
export const TOTP_WINDOW = 1;

export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

function totpOf(secret: Buffer, label = 'account'): TOTP {
  return new TOTP({
    issuer: ISSUER,
    label,
    algorithm: TOTP_HMAC,
    digits: DIGITS,
    period: PERIOD_SECONDS,
    secret: new Secret({ buffer: new Uint8Array(secret).buffer }),
  });
}

/** The base32 secret and the otpauth:// URI an authenticator app scans (shown once, at enrollment). */
export function totpProvisioning(secret: Buffer, label: string): { secret: string; uri: string } {
  const totp = totpOf(secret, label);
  return { secret: totp.secret.base32, uri: totp.toString() };
}

/** The time step a code matches within ±1 step of `now`, or undefined. */
export function matchTotp(secret: Buffer, code: string, now: Date): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const timestamp = now.getTime();
  const delta = totpOf(secret).validate({ token: code, timestamp, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return TOTP.counter({ period: PERIOD_SECONDS, timestamp }) + delta;
}

/** The AAD binds a sealed secret to its account, so a secret copied to another row does not open. */
function aad(userId: string): Buffer {
  return Buffer.from(`ward:totp-secret:v1:${userId}`);
}

export function sealTotpSecret(keyring: Keyring, userId: string, secret: Buffer): SealedBox {
  return seal(keyring.activeDataKey(), secret, aad(userId));
}

export function openTotpSecret(keyring: Keyring, userId: string, box: SealedBox): Buffer {
  return open(keyring.dataKey(box.keyId), box, aad(userId));
}

/** Ten one-time recovery codes of 80 random bits each, grouped for reading: `abcd-efgh-ijkl-mnop`. */
export const RECOVERY_CODE_COUNT = 10;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(10);
    let bits = 0n;
    for (const b of bytes) bits = (bits << 8n) | BigInt(b);
    let text = '';
    for (let i = 0; i < 16; i++) text = BASE32[Number((bits >> BigInt(5 * i)) & 31n)] + text;
    return text.match(/.{4}/g)?.join('-') ?? text;
  });
}

/** How a typed recovery code is compared: lower case, no separators or spaces. */
export function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

/**
 * A recovery code is stored as HMAC-SHA-256 under the blind-index key, bound to its account: with
 * 80 random bits and a key outside the database, a stolen table gives nothing to guess offline.
 */
export function recoveryCodeHash(keyring: Keyring, userId: string, code: string): Buffer {
  return keyring.blindIndexer.hash('recovery-code', userId, normalizeRecoveryCode(code));
}
