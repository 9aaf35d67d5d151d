import { randomBytes } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';

/** Hashes and verifies passwords; the real one is argon2id, a test may wrap it to count calls. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(encoded: string, password: string): Promise<boolean>;
}

/**
 * argon2id with the OWASP Password Storage Cheat Sheet's first parameter set: m = 19 MiB,
 * t = 2, p = 1, a random 16-byte salt per hash, output in the PHC string format, which records
 * the parameters (NIST SP 800-63B §3.1.1.2 storage; 170.315(d)(12)).
 */
export const ARGON2ID_PARAMETERS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function argon2idHasher(): PasswordHasher {
  return {
    hash: (password) => hash(password, { ...ARGON2ID_PARAMETERS, salt: randomBytes(16) }),
    verify: async (encoded, password) => {
      try {
        return await verify(encoded, password);
      } catch {
        return false;
      }
    },
  };
}
