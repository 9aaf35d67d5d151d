import { compiledSearchExpression, searchParameter } from './search-parameters.js';

export interface IdentifierValue {
  readonly system: string;
  readonly value: string;
}

/** The Identifier values the `identifier` search parameter of this type selects. */
export function identifiersOf(resource: { resourceType: string }): IdentifierValue[] {
  const fn = compiledSearchExpression(resource.resourceType, 'identifier', 'token');
  if (!fn) return [];
  const out: IdentifierValue[] = [];
  for (const node of fn(resource)) {
    const id = node as { system?: unknown; value?: unknown } | null;
    if (id && typeof id.value === 'string') out.push({ system: typeof id.system === 'string' ? id.system : '', value: id.value });
  }
  return out;
}

/** Whether the type has an `identifier` search parameter (and so supports identifier criteria). */
export function hasIdentifierParameter(resourceType: string): boolean {
  return searchParameter(resourceType, 'identifier')?.type === 'token';
}
