import { WardError } from '../fhir/index.js';

/**
 * The body of a login or an enrollment: a name for the credential (username, enrollment code)
 * and a password, both strings of bounded length, checked before anything costly runs.
 */
export function credentialBody<K extends 'username' | 'code'>(body: unknown, key: K): { [P in K | 'password']: string } {
  const b = body as Record<string, unknown> | null;
  const name = b && typeof b === 'object' ? b[key] : undefined;
  const password = b && typeof b === 'object' ? b.password : undefined;
  if (typeof name !== 'string' || typeof password !== 'string' || name.length > 256 || password.length > 4096) {
    throw new WardError('WARD_INVALID_REQUEST', { details: [{ diagnostics: `The body must be {"${key}": string, "password": string}` }] });
  }
  return { [key]: name, password } as { [P in K | 'password']: string };
}
