import { compiledSearchExpression } from './search-parameters.js';

/**
 * The category tokens of a resource (`system|code` and bare `code`), from the official `category`
 * search parameter of its type — what SMART granular scopes such as
 * `patient/Observation.rs?category=…|vital-signs` restrict on.
 */
export function categoriesOf(resource: { resourceType: string }): string[] {
  const fn = compiledSearchExpression(resource.resourceType, 'category', 'token');
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
