import type { Principal } from '../policy/index.js';

/** Ward itself, for actions it takes on its own (creating its keys on first start). */
export function systemPrincipal(): Principal {
  return { id: 'ward:system', kind: 'system', roles: [], scopes: { resourceScopes: [], other: [] }, purposeOfUse: 'HSYSADMIN' };
}
