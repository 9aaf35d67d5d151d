/**
 * Expands the ValueSets that base definitions bind with strength `required`, from the
 * ValueSet and CodeSystem resources shipped in the definitions package. A ValueSet that needs
 * an external terminology (UCUM, BCP-13 mime types, ISO 4217) or a filter cannot be expanded
 * here; callers then skip the check rather than reject data they cannot judge.
 */
import { canonicalBase, canonicalTail, isJsonObject, type JsonObject, readPackageFile } from './definitions-package.js';

export interface ValueSetExpansion {
  /** `system|code` pairs. */
  readonly codings: ReadonlySet<string>;
  /** Codes regardless of system, for the `code` datatype whose system is implied. */
  readonly codes: ReadonlySet<string>;
}

const expansions = new Map<string, ValueSetExpansion | null>();
const codeSystems = new Map<string, JsonObject | null>();

/** The codes of a ValueSet, or undefined when the package content cannot expand it. */
export function expandValueSet(url: string): ValueSetExpansion | undefined {
  const key = canonicalBase(url);
  const cached = expansions.get(key);
  if (cached !== undefined) return cached ?? undefined;
  // Mark as in progress so that a ValueSet including itself (directly or not) is unexpandable.
  expansions.set(key, null);
  const result = expand(key, new Set([key]));
  expansions.set(key, result ?? null);
  return result;
}

/** Whether a coding (system may be absent for the `code` type) belongs to the expansion. */
export function expansionContains(expansion: ValueSetExpansion, system: string | undefined, code: string): boolean {
  return system === undefined ? expansion.codes.has(code) : expansion.codings.has(`${system}|${code}`);
}

function expand(url: string, visiting: Set<string>): ValueSetExpansion | undefined {
  const valueSet = readPackageFile(`ValueSet-${canonicalTail(url)}.json`);
  if (!valueSet || valueSet.url !== url || !isJsonObject(valueSet.compose)) return undefined;
  const codings = new Set<string>();
  for (const include of objects(valueSet.compose.include)) {
    if (!addInclude(codings, include, canonicalTail(url), visiting)) return undefined;
  }
  const excluded = new Set<string>();
  for (const exclude of objects(valueSet.compose.exclude)) {
    if (!addInclude(excluded, exclude, canonicalTail(url), visiting)) return undefined;
  }
  for (const coding of excluded) codings.delete(coding);
  const codes = new Set([...codings].map((c) => c.slice(c.indexOf('|') + 1)));
  return { codings, codes };
}

function addInclude(out: Set<string>, include: JsonObject, valueSetId: string, visiting: Set<string>): boolean {
  if (include.filter !== undefined) return false;
  const system = typeof include.system === 'string' ? include.system : undefined;
  const included = Array.isArray(include.valueSet) ? include.valueSet.filter((v): v is string => typeof v === 'string') : [];
  if (system === undefined && included.length === 0) return false;
  if (included.length > 0) {
    // Several valueSets in one include are an intersection; only the single case is needed.
    if (included.length > 1 || system !== undefined) return false;
    const nested = canonicalBase(included[0] as string);
    if (visiting.has(nested)) return false;
    visiting.add(nested);
    const expansion = expand(nested, visiting);
    visiting.delete(nested);
    if (!expansion) return false;
    for (const coding of expansion.codings) out.add(coding);
    return true;
  }
  if (system === undefined) return false;
  const concepts = objects(include.concept);
  if (concepts.length > 0) {
    for (const concept of concepts) {
      if (typeof concept.code === 'string') out.add(`${system}|${concept.code}`);
    }
    return true;
  }
  const codeSystem = findCodeSystem(system, valueSetId);
  if (codeSystem?.content !== 'complete') return false;
  addConceptTree(out, system, objects(codeSystem.concept));
  return true;
}

function addConceptTree(out: Set<string>, system: string, concepts: readonly JsonObject[]): void {
  for (const concept of concepts) {
    if (typeof concept.code === 'string') out.add(`${system}|${concept.code}`);
    addConceptTree(out, system, objects(concept.concept));
  }
}

function findCodeSystem(system: string, valueSetId: string): JsonObject | undefined {
  const cached = codeSystems.get(system);
  if (cached !== undefined) return cached ?? undefined;
  // Package file names follow the CodeSystem id, which is usually the URL's last segment and
  // otherwise the id of the ValueSet that wraps the whole CodeSystem.
  let found: JsonObject | undefined;
  for (const id of [canonicalTail(system), valueSetId]) {
    const candidate = readPackageFile(`CodeSystem-${id}.json`);
    if (candidate?.url === system) {
      found = candidate;
      break;
    }
  }
  codeSystems.set(system, found ?? null);
  return found;
}

function objects(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isJsonObject) : [];
}
