import { POLICY_VERSION } from './access-policy.js';
import type { Decision } from './decide.js';
import type { Principal } from './principal.js';
import { separationRefusal } from './separation.js';

export type ConfigurationAction = 'read' | 'change';

/**
 * Who manages Ward's configuration (organization policy overrides): the system administrator,
 * acting as a workforce user whose account holds the administrative role alone (separation of
 * duties, [NPRM] 164.312(a)(2)(ii)); a token that mixes it with a clinical role is refused here as
 * well as at account level. Privacy officers may read the configuration, never change it: they
 * oversee the policy's effect, and explaining a decision needs the override it was made under.
 */
export function configurationDecision(principal: Principal, action: ConfigurationAction): Decision {
  const rule = (id: string, text: string) => [`${POLICY_VERSION}/configuration/${id}: ${text}`];
  if (principal.kind !== 'user') return { effect: 'deny', reasons: rule('user', 'only a workforce user manages configuration') };
  if (principal.roles.includes('system-admin')) {
    if (separationRefusal(principal.roles) !== undefined)
      return { effect: 'deny', reasons: rule('separation', 'the system-admin role is held alone; this principal holds others') };
    return { effect: 'permit', reasons: rule('system-admin', `the system administrator may ${action} configuration`), obligations: [] };
  }
  if (action === 'read' && principal.roles.includes('privacy-officer'))
    return { effect: 'permit', reasons: rule('privacy-officer', 'a privacy officer may read configuration'), obligations: [] };
  return {
    effect: 'deny',
    reasons: rule(
      'system-admin',
      action === 'change' ? 'only a system administrator changes configuration' : 'no role of the principal reads configuration',
    ),
  };
}
