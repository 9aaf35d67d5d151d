import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import { packageFileNames, readDefinition } from './definitions-package.js';

/** A search parameter as the official R4 SearchParameter definitions give it. */
export interface SearchParameterDefinition {
  readonly url: string;
  readonly code: string;
  readonly base: readonly string[];
  readonly type: 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';
  readonly expression?: string;
  readonly target?: readonly string[];
  /** A composite's parts: each a search parameter (by canonical URL) and its FHIRPath relative to the composite's. */
  readonly component?: readonly { readonly definition: string; readonly expression: string }[];
}

let byBase: Map<string, Map<string, SearchParameterDefinition>> | undefined;
const byUrl = new Map<string, SearchParameterDefinition>();

function load(): Map<string, Map<string, SearchParameterDefinition>> {
  if (byBase) return byBase;
  byBase = new Map();
  for (const file of packageFileNames()) {
    if (!file.startsWith('SearchParameter-') || !file.endsWith('.json')) continue;
    const sp = readDefinition<SearchParameterDefinition & { resourceType: string; url?: string; experimental?: boolean }>(file);
    // The package also carries example SearchParameters; only the core definitions count.
    if (sp.resourceType !== 'SearchParameter' || sp.experimental || !sp.url?.startsWith('http://hl7.org/fhir/SearchParameter/')) continue;
    byUrl.set(sp.url, sp);
    for (const base of sp.base ?? []) {
      const params = byBase.get(base) ?? new Map<string, SearchParameterDefinition>();
      byBase.set(base, params);
      params.set(sp.code, sp);
    }
  }
  return byBase;
}

/** Every search parameter of a type, its own and those defined on Resource and DomainResource. */
export function searchParametersOf(resourceType: string): SearchParameterDefinition[] {
  const all = load();
  const out = new Map<string, SearchParameterDefinition>();
  for (const base of ['Resource', 'DomainResource', resourceType]) for (const [code, sp] of all.get(base) ?? []) out.set(code, sp);
  return [...out.values()];
}

/** The definition of `code` on `resourceType` (including Resource/DomainResource-level ones such as _id). */
export function searchParameter(resourceType: string, code: string): SearchParameterDefinition | undefined {
  const all = load();
  return all.get(resourceType)?.get(code) ?? all.get('DomainResource')?.get(code) ?? all.get('Resource')?.get(code);
}

/** The core definition with this canonical URL (a composite's component). */
export function searchParameterByUrl(url: string): SearchParameterDefinition | undefined {
  load();
  return byUrl.get(url);
}

/**
 * The part of a (possibly multi-type) expression that applies to `resourceType`, e.g. from
 * `AllergyIntolerance.patient | Observation.subject.where(resolve() is Patient)` and Observation,
 * `Observation.subject.where(resolve() is Patient)`.
 */
export function expressionFor(definition: SearchParameterDefinition, resourceType: string): string | undefined {
  if (!definition.expression) return undefined;
  const parts = definition.expression
    .split(/\s\|\s/)
    .map((p) => p.trim().replace(/^\((.*)\)$/, '$1'))
    .filter((p) => p.startsWith(`${resourceType}.`) || p.startsWith(`(${resourceType}.`));
  return parts.length ? parts.join(' | ') : undefined;
}

export type CompiledExpression = (resource: object) => unknown[];
const compiledByKey = new Map<string, CompiledExpression | null>();

/**
 * The compiled FHIRPath of search parameter `code` on `resourceType` (of the given parameter
 * type), or null when the type has no such parameter. Compiled once and cached.
 */
export function compiledSearchExpression(
  resourceType: string,
  code: string,
  type: SearchParameterDefinition['type'],
): CompiledExpression | null {
  const key = `${resourceType}.${code}`;
  let fn = compiledByKey.get(key);
  if (fn === undefined) {
    const sp = searchParameter(resourceType, code);
    const expression = sp && sp.type === type ? expressionFor(sp, resourceType) : undefined;
    fn = expression ? compileExpression(expression) : null;
    compiledByKey.set(key, fn);
  }
  return fn;
}

export function compileExpression(expression: string): CompiledExpression {
  return fhirpath.compile(expression, r4model) as CompiledExpression;
}

/** An expression evaluated on an element found at `base` (a composite's component on its element). */
export function compileRelativeExpression(base: string, expression: string): CompiledExpression {
  return fhirpath.compile({ base, expression }, r4model) as CompiledExpression;
}
