import { parseScopes, type ResourceScope, ScopeSyntaxError } from '../policy/index.js';

/** Why a requested scope string is refused; `scope` is the first scope that fails. */
export type CeilingCheck = { readonly ok: true } | { readonly ok: false; readonly scope: string; readonly reason: string };

/**
 * Whether every requested scope lies within a client's approved ceiling (issue 5 item 7: an app
 * never gets more than it was approved for). Pure. A resource scope is covered by a ceiling scope
 * of the same context whose type is `*` or the same, whose permissions include the requested
 * ones, and whose restriction (if any) the request repeats exactly; any other scope (openid,
 * launch/patient, offline_access…) must be in the ceiling by name. `systemOnly` is for SMART
 * Backend Services, where only `system/` scopes make sense.
 */
export function checkScopeCeiling(requested: string, ceiling: string, options: { systemOnly: boolean }): CeilingCheck {
  let want: ReturnType<typeof parseScopes>;
  let allowed: ReturnType<typeof parseScopes>;
  try {
    want = parseScopes(requested);
    allowed = parseScopes(ceiling);
  } catch (e) {
    if (e instanceof ScopeSyntaxError) return { ok: false, scope: '(malformed)', reason: 'malformed scope' };
    throw e;
  }
  if (want.resourceScopes.length === 0 && want.other.length === 0) return { ok: false, scope: '(none)', reason: 'no scope requested' };
  for (const name of want.other) {
    if (options.systemOnly) return { ok: false, scope: name, reason: 'backend services take system/ scopes only' };
    if (!allowed.other.includes(name)) return { ok: false, scope: name, reason: 'beyond the client ceiling' };
  }
  for (const scope of want.resourceScopes) {
    if (options.systemOnly && scope.context !== 'system')
      return { ok: false, scope: scope.text, reason: 'backend services take system/ scopes only' };
    if (!allowed.resourceScopes.some((c) => covers(c, scope))) return { ok: false, scope: scope.text, reason: 'beyond the client ceiling' };
  }
  return { ok: true };
}

function covers(ceiling: ResourceScope, wanted: ResourceScope): boolean {
  if (ceiling.context !== wanted.context) return false;
  if (ceiling.resourceType !== '*' && ceiling.resourceType !== wanted.resourceType) return false;
  for (const p of wanted.permissions) if (!ceiling.permissions.has(p)) return false;
  if (!ceiling.restriction) return true;
  return restrictionText(ceiling) === restrictionText(wanted);
}

function restrictionText(scope: ResourceScope): string {
  const i = scope.text.indexOf('?');
  return i < 0 ? '' : scope.text.slice(i);
}
