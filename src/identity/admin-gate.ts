import { WardError } from '../fhir/index.js';
import { checkStepUp, configurationDecision, type Principal } from '../policy/index.js';

/** Why the admin API refused a caller, for its audit entry: which rule, and (for a step-up) which case. */
export interface AdminRefusal {
  readonly error: WardError;
  readonly detail: Record<string, string>;
}

/**
 * Who may call the admin API (accounts and client apps): the system administrator, on an account
 * that holds the administrative role alone (separation of duties, [NPRM] 164.312(a)(2)(ii) — the
 * rule that governs configuration changes, `configurationDecision`), from a web session that
 * proved a second factor within the step-up window (ADR 0014: role and permission changes and
 * client approval are sensitive operations). As for break-glass, a bearer token — which nobody can
 * be re-prompted through — gets 403 `WARD_STEP_UP_UNAVAILABLE`, and a session without a fresh
 * step-up 401 `WARD_STEP_UP_REQUIRED`. The role is checked first, so a clinician learns nothing
 * about step-up from the answer. Pure.
 */
export function adminRefusal(principal: Principal, now: Date, windowSeconds: number): AdminRefusal | undefined {
  const decision = configurationDecision(principal, 'change');
  if (decision.effect !== 'permit') return { error: new WardError('WARD_POLICY_DENIED'), detail: { reason: decision.reasons.join('; ') } };
  const stepUp = checkStepUp(principal, now, windowSeconds);
  if (stepUp.kind === 'fresh') return undefined;
  if (stepUp.kind === 'unavailable')
    return {
      error: new WardError('WARD_STEP_UP_UNAVAILABLE'),
      detail: { reason: 'a bearer token cannot prove a second factor; use the admin API from a web session', stepUp: 'unavailable' },
    };
  return {
    error: new WardError('WARD_STEP_UP_REQUIRED', {
      details: [{ diagnostics: `Prove a second factor with POST /auth/step-up and retry; a step-up counts for ${windowSeconds} seconds` }],
    }),
    detail: {
      reason: stepUp.reason === 'never' ? 'no step-up on this session' : `the last step-up is older than ${windowSeconds} s`,
      stepUp: stepUp.reason === 'never' ? 'required' : 'stale',
    },
  };
}
