import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { expressionFor, searchParameter } from './search-parameters.js';

const compiled = new Map<string, ((r: object) => unknown[]) | null>();

/**
 * The category tokens of a resource (`system|code` and bare `code`), from the official `category`
 * search parameter of its type — what SMART granular scopes such as
 * `patient/Observation.rs?category=…|vital-signs` restrict on.
 */
export function categoriesOf(resource: { resourceType: string }): string[] {
  let fn = compiled.get(resource.resourceType);
  if (fn === undefined) {
    const sp = searchParameter(resource.resourceType, 'category');
    const expression = sp && sp.type === 'token' ? expressionFor(sp, resource.resourceType) : undefined;
    fn = expression ? (fhirpath.compile(expression, r4model) as (r: object) => unknown[]) : null;
    compiled.set(resource.resourceType, fn);
  }
  if (!fn) return [];
  const out = new Set<string>();
  for (const node of fn(resource)) {
    const codings = (node as { coding?: unknown } | null)?.coding;
    for (const coding of Array.isArray(codings) ? codings : []) {
      const { system, code } = coding as { system?: unknown; code?: unknown };
      if (typeof code !== 'string') continue;
      out.add(code);
      out.add(`${typeof system === 'string' ? system : ''}|${code}`);
    }
  }
  return [...out];
}
