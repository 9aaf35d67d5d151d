import { type AccessAction, grantFor } from './access-policy.js';
import type { Role } from './principal.js';
import type { Permission } from './scopes.js';

/** The access-policy action a SMART permission letter stands for. */
export const ACTION_OF_PERMISSION: Readonly<Record<Permission, AccessAction>> = {
  c: 'create',
  r: 'read',
  u: 'update',
  d: 'delete',
  s: 'search',
};

/**
 * Whether a role may use a SMART permission on a type, read from the access policy. Least
 * privilege (164.312(a)(1)): front desk and billing see no clinical resources, the system
 * administrator reads no clinical PHI (separation of duties), and the audit log (AuditEvent) is
 * reached only by the privacy officer and the auditor: a `*` grant never covers it.
 */
export function roleAllows(role: Role, resourceType: string | undefined, permission: Permission): boolean {
  return grantFor(role, resourceType, ACTION_OF_PERMISSION[permission]) !== undefined;
}
