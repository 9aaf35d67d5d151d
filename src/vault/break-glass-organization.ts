import { WardError } from '../fhir/index.js';
import type { OperationRecord } from './audit-trail.js';

/**
 * Break-glass can be disabled per organization (issue 6 §5): a request from a member of an
 * organization whose override says `breakGlass: disabled` is refused, naming the override version
 * in the audit entry's reasons. The policy engine also lifts nothing for such a member, so a grant
 * made before the change stops working on the next request.
 */
export function refuseWhereBreakGlassDisabled(op: OperationRecord): void {
  const disabled = (op.typeFacts?.policies ?? []).filter((p) => !p.breakGlass);
  if (disabled.length === 0) return;
  op.decision = {
    effect: 'deny',
    reasons: disabled.map(
      (p) => `${p.version}/break-glass/disabled: ${p.override?.organization ?? 'the organization'} disabled break-glass`,
    ),
  };
  throw new WardError('WARD_BREAK_GLASS_DISABLED');
}
