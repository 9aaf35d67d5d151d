import type { UserRow } from '../store/index.js';

/** What the second step of a login decided: which methods authenticated the user (RFC 8176 `amr`), or a refusal. */
export type SecondFactorOutcome =
  | { readonly kind: 'satisfied'; readonly amr: readonly string[] }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * The step between a correct password and a signed-in user on the authorization server's login
 * page. A patient's password completes it. A workforce account needs a second factor for every
 * login (170.315(d)(13)), and the login page does not ask for one yet, so a workforce sign-in
 * there is refused (fail closed) rather than granted on the password alone: workforce users sign
 * in to Ward's web app, where TOTP or WebAuthn is required. Asking for the factor on this page
 * (or reusing the web session) is the next step of issue 5.
 */
export async function secondFactorAfterPassword(user: UserRow): Promise<SecondFactorOutcome> {
  if (user.kind === 'patient') return { kind: 'satisfied', amr: ['pwd'] };
  return { kind: 'refused', reason: 'second-factor-required' };
}
