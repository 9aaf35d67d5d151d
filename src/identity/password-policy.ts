/**
 * Ward's password policy, NIST SP 800-63B-4 §3.1.1.2: length bounds counted in Unicode code
 * points after NFKC normalisation, no composition rules, no expiry, and a blocklist of common,
 * breached and context words. Pure: `checkPassword` decides, the caller refuses and audits.
 */

/**
 * The minimum while a password is the only factor. Once MFA exists (issue 5, item 3) a password
 * that is one of two factors may be shorter: this one constant then becomes 12 for those accounts.
 */
export const PASSWORD_MIN_LENGTH = 15;
/** NIST asks to accept at least 64; Ward accepts 128 and refuses longer with a reason. */
export const PASSWORD_MAX_LENGTH = 128;
/** Words that tie a password to this service (a context word, §3.1.1.2). */
const SERVICE_WORDS = ['ward'];

export type PasswordRefusal = 'too-short' | 'too-long' | 'common' | 'contains-username' | 'context-word' | 'repetitive' | 'unchanged';

/** The reason shown to the user (PHI-free; it never quotes the password). */
export const REFUSAL_TEXT: Readonly<Record<PasswordRefusal, string>> = {
  'too-short': `The password must have at least ${PASSWORD_MIN_LENGTH} characters.`,
  'too-long': `The password must have at most ${PASSWORD_MAX_LENGTH} characters.`,
  common: 'The password is on the list of common or breached passwords.',
  'contains-username': 'The password must not contain the username.',
  'context-word': 'The password is built from the name of this service.',
  repetitive: 'The password repeats too few characters.',
  unchanged: 'The new password must differ from the current one.',
};

/** NFKC, so that the same passphrase typed on two keyboards hashes the same (§3.1.1.2). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export function codePointLength(text: string): number {
  return [...text].length;
}

/** Padding people add to a common word to pass composition rules: digits, punctuation, spaces. */
const PADDING = /^[\p{N}\p{P}\p{S}\s]+|[\p{N}\p{P}\p{S}\s]+$/gu;

/** Checks a new password (already normalised) for an account; undefined when it is acceptable. */
export function checkPassword(
  password: string,
  context: { readonly username: string; readonly blocklist: ReadonlySet<string> },
): PasswordRefusal | undefined {
  const length = codePointLength(password);
  if (length < PASSWORD_MIN_LENGTH) return 'too-short';
  if (length > PASSWORD_MAX_LENGTH) return 'too-long';
  const folded = password.toLowerCase();
  const { blocklist } = context;
  if (blocklist.has(folded) || blocklist.has(folded.replace(PADDING, ''))) return 'common';
  const username = context.username.toLowerCase();
  if (username.length >= 3 && folded.includes(username)) return 'contains-username';
  let rest = folded;
  for (const word of SERVICE_WORDS) rest = rest.replaceAll(word, '');
  if (rest !== folded) {
    const core = rest.replace(PADDING, '');
    if (codePointLength(core) < 8 || blocklist.has(core)) return 'context-word';
  }
  if (new Set(folded).size < 4) return 'repetitive';
  return undefined;
}
