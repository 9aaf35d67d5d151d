import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../vault/index.js';
import { asOperatorError } from './operator-commands.js';
import type { Ward } from './ward.js';

/** `ward compliance report`: the compliance report as JSON ((d)(13): where MFA is used), audited like the HTTP one. */
export async function complianceReport(ward: Ward, operator: Principal, ctx: RequestContext): Promise<string> {
  return JSON.stringify(await asOperatorError(ward.identity.complianceReport.report(operator, ctx)), null, 2);
}
