import type { Principal } from './principal.js';

/** Issue 5 §3: a step-up counts for 5 minutes by default (`WARD_STEP_UP_MINUTES`). */
export const DEFAULT_STEP_UP_SECONDS = 5 * 60;
/** The longest window an operator may configure: a step-up is a re-prompt, not a second session. */
export const MAX_STEP_UP_SECONDS = 15 * 60;

/**
 * Whether a principal proved a second factor recently enough for a sensitive operation
 * (break-glass, and later bulk export, key operations, role and client changes):
 * - `fresh`: a step-up on this very session within the window;
 * - `required`: a web session that has not stepped up, or did so too long ago — the client can
 *   step up and retry;
 * - `unavailable`: a bearer token, through which no second factor can be asked for.
 */
export type StepUpCheck =
  | { readonly kind: 'fresh'; readonly at: Date; readonly method: 'totp' | 'webauthn' }
  | { readonly kind: 'required'; readonly reason: 'never' | 'stale' }
  | { readonly kind: 'unavailable' };

/** Pure: the principal's step-up against `now` and the window. A stamp from the future (clock skew) is not fresh. */
export function checkStepUp(principal: Principal, now: Date, windowSeconds: number): StepUpCheck {
  if (!principal.session) return { kind: 'unavailable' };
  const stepUp = principal.session.stepUp;
  if (!stepUp) return { kind: 'required', reason: 'never' };
  const age = now.getTime() - stepUp.at.getTime();
  if (age < 0 || age > windowSeconds * 1000) return { kind: 'required', reason: 'stale' };
  return { kind: 'fresh', at: stepUp.at, method: stepUp.method };
}
