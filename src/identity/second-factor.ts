import type { UserRow } from '../store/index.js';

/** What the second step of a login decided: which methods authenticated the user (RFC 8176 `amr`), or a refusal. */
export type SecondFactorOutcome =
  | { readonly kind: 'satisfied'; readonly amr: readonly string[] }
  | { readonly kind: 'refused'; readonly reason: string };

/**
 * The one seam between a correct password and a signed-in user on the authorization server's
 * login page. Workforce MFA (TOTP and WebAuthn, 170.315(d)(13)) is being built on its own
 * branch; until it lands here this step accepts the password alone, exactly as `POST /auth/login`
 * does today.
 * TODO(issue 5 item 3): require and verify a second factor for every workforce account here
 * (and render its page from the login interaction) once the MFA work is on main.
 */
export async function secondFactorAfterPassword(_user: UserRow): Promise<SecondFactorOutcome> {
  return { kind: 'satisfied', amr: ['pwd'] };
}
