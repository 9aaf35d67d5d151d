import { WardError } from '../fhir/index.js';

/**
 * Usernames are compared case-folded (164.312(a)(2)(i): one identifier per person): NFKC, then
 * lower case, limited to ASCII letters, digits and `. _ @ + -` so that look-alike characters
 * cannot make two usernames that read the same.
 */
const USERNAME = /^[a-z0-9][a-z0-9._@+-]{2,63}$/;

export function foldUsername(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

export function isValidUsername(folded: string): boolean {
  return USERNAME.test(folded);
}

export function checkUsername(username: string): string {
  const folded = foldUsername(username);
  if (!isValidUsername(folded)) {
    throw new WardError('WARD_INVALID_REQUEST', {
      details: [{ diagnostics: 'A username has 3 to 64 characters: letters, digits and . _ @ + - (starting with a letter or digit)' }],
    });
  }
  return folded;
}
