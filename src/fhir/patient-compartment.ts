import { readDefinition } from './definitions-package.js';
import { compileExpression, expressionFor, searchParameter } from './search-parameters.js';
import { compileSimplePath } from './simple-path.js';

interface CompartmentDefinition {
  resource: { code: string; param?: string[] }[];
}

type Extractor = (resource: unknown) => string[];
const extractors = new Map<string, Extractor>();
let membership: Map<string, readonly string[]> | undefined;

/**
 * The ids of the Patients whose compartment holds this resource, computed from the official
 * Patient CompartmentDefinition and the search parameters it names. Policy uses it to keep a
 * patient-scoped token inside one patient's record. Only relative `Patient/{id}` references count:
 * an absolute URL names another server's patient.
 */
export function patientCompartmentOf(resource: { resourceType: string; id?: string }): string[] {
  const ids = new Set(extractorFor(resource.resourceType)(resource));
  if (resource.resourceType === 'Patient' && resource.id) ids.add(resource.id);
  return [...ids].sort();
}

function extractorFor(resourceType: string): Extractor {
  const cached = extractors.get(resourceType);
  if (cached) return cached;
  membership ??= new Map(
    readDefinition<CompartmentDefinition>('CompartmentDefinition-patient.json').resource.map((r) => [r.code, r.param ?? []]),
  );
  const compiled = (membership.get(resourceType) ?? [])
    .map((code) => (code === '{def}' ? undefined : searchParameter(resourceType, code)))
    .map((sp) => (sp ? expressionFor(sp, resourceType) : undefined))
    .filter((e): e is string => e !== undefined)
    // resolve() has no resolver at write time; the reference's own type prefix says whether it is a Patient.
    .map((e) => e.replaceAll('.where(resolve() is Patient)', ''))
    .map((e) => compileSimplePath(e) ?? compileExpression(e));
  const extractor: Extractor = (resource) => {
    const out: string[] = [];
    for (const fn of compiled) {
      for (const node of fn(resource as object) as unknown[]) {
        const reference = (node as { reference?: unknown } | null)?.reference;
        if (typeof reference === 'string') {
          const m = /^Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/.*)?$/.exec(reference);
          if (m?.[1]) out.push(m[1]);
        }
      }
    }
    return out;
  };
  extractors.set(resourceType, extractor);
  return extractor;
}
