/**
 * SMART App Launch scopes (v2 `patient/Observation.rs`, v1 `user/*.read`). A scope grants
 * permissions on one resource type (or `*`) in one context: the token's patient compartment,
 * what the user may see, or system-wide. Scopes that are not resource scopes (openid, fhirUser,
 * launch, offline_access) grant no data access and are kept only as names.
 */
export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  readonly context: ScopeContext;
  readonly resourceType: string;
  readonly permissions: ReadonlySet<Permission>;
  /** Granular restriction (`?category=…`) as name → allowed token values. */
  readonly restriction?: ReadonlyMap<string, readonly string[]>;
  readonly text: string;
}

export interface ScopeSet {
  readonly resourceScopes: readonly ResourceScope[];
  readonly other: readonly string[];
}

const V2 = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(c?r?u?d?s?)(\?.+)?$/;
const V1 = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]+)\.(read|write|\*)$/;

export class ScopeSyntaxError extends Error {
  override readonly name = 'ScopeSyntaxError';
}

/** Parses a space-separated scope string. A malformed resource scope is an error, never ignored. */
export function parseScopes(text: string): ScopeSet {
  const resourceScopes: ResourceScope[] = [];
  const other: string[] = [];
  for (const scope of text.split(/\s+/).filter(Boolean)) {
    const v1 = V1.exec(scope);
    if (v1) {
      const perms: Permission[] = v1[3] === 'read' ? ['r', 's'] : v1[3] === 'write' ? ['c', 'u', 'd'] : ['c', 'r', 'u', 'd', 's'];
      resourceScopes.push({ context: v1[1] as ScopeContext, resourceType: v1[2] as string, permissions: new Set(perms), text: scope });
      continue;
    }
    const v2 = V2.exec(scope);
    if (v2) {
      if (!v2[3]) throw new ScopeSyntaxError('a resource scope must name at least one of c, r, u, d, s');
      resourceScopes.push({
        context: v2[1] as ScopeContext,
        resourceType: v2[2] as string,
        permissions: new Set(v2[3].split('') as Permission[]),
        ...(v2[4] ? { restriction: parseRestriction(v2[4].slice(1)) } : {}),
        text: scope,
      });
      continue;
    }
    if (/^(patient|user|system)\//.test(scope)) throw new ScopeSyntaxError(`malformed resource scope`);
    other.push(scope);
  }
  return { resourceScopes, other };
}

function parseRestriction(query: string): ReadonlyMap<string, readonly string[]> {
  const map = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(query)) {
    map.set(name, [...(map.get(name) ?? []), ...value.split(',')]);
  }
  return map;
}
