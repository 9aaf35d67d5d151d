import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { expressionFor, searchParameter } from './search-parameters.js';

export interface IdentifierValue {
  readonly system: string;
  readonly value: string;
}

const compiled = new Map<string, ((r: object) => unknown[]) | null>();

/** The Identifier values the `identifier` search parameter of this type selects. */
export function identifiersOf(resource: { resourceType: string }): IdentifierValue[] {
  let fn = compiled.get(resource.resourceType);
  if (fn === undefined) {
    const sp = searchParameter(resource.resourceType, 'identifier');
    const expression = sp && sp.type === 'token' ? expressionFor(sp, resource.resourceType) : undefined;
    fn = expression ? (fhirpath.compile(expression, r4model) as (r: object) => unknown[]) : null;
    compiled.set(resource.resourceType, fn);
  }
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
