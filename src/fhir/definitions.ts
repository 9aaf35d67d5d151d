/**
 * R4 core definitions: the list of resource types and, per type, its compiled element model.
 * Only base definitions (derivation `specialization`, plus the roots Element and Resource) are
 * used — never profiles — because Ward validates against the base specification. Each
 * StructureDefinition file is read and compiled on first use and cached for the process, so
 * start-up reads one small CodeSystem instead of ~40 MB of definitions.
 */
import { isJsonObject, readPackageFile } from './definitions-package.js';
import { compileTypeModel, type ElementDef, type StructureModel, type TypeModel } from './element-model.js';

const CORE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
// The only abstract resource types in R4; test/fhir/definitions.test.ts checks every listed
// type against its StructureDefinition (kind resource, not abstract, specialization).
const ABSTRACT_RESOURCES = new Set(['Resource', 'DomainResource']);

function loadResourceTypes(): readonly string[] {
  // The resource-types CodeSystem is the spec's own list of resource names and is 100× smaller
  // than scanning every StructureDefinition for kind = resource.
  const codeSystem = readPackageFile('CodeSystem-resource-types.json');
  const concepts = Array.isArray(codeSystem?.concept) ? (codeSystem.concept as unknown[]) : [];
  const names = concepts
    .map((c) => (isJsonObject(c) && typeof c.code === 'string' ? c.code : undefined))
    .filter((code): code is string => code !== undefined && !ABSTRACT_RESOURCES.has(code));
  if (names.length === 0) throw new TypeError('hl7.fhir.r4.examples: CodeSystem-resource-types.json is missing or empty');
  return Object.freeze([...names].sort());
}

/** Every concrete R4 resource type, sorted. */
export const RESOURCE_TYPES: readonly string[] = loadResourceTypes();

const resourceTypeSet: ReadonlySet<string> = new Set(RESOURCE_TYPES);

export function isResourceType(name: string): boolean {
  return resourceTypeSet.has(name);
}

const models = new Map<string, TypeModel | null>();

/**
 * The compiled base definition of a resource, complex or primitive type (or the abstract roots
 * Element, BackboneElement, Resource, DomainResource); undefined for unknown names and profiles.
 */
export function getTypeModel(name: string): TypeModel | undefined {
  const cached = models.get(name);
  if (cached !== undefined) return cached ?? undefined;
  const model = TYPE_NAME.test(name) ? loadModel(name) : undefined;
  models.set(name, model ?? null);
  return model;
}

export function getStructureModel(name: string): StructureModel | undefined {
  const model = getTypeModel(name);
  return model && model.kind !== 'primitive-type' ? model : undefined;
}

export function isPrimitiveType(name: string): boolean {
  return getTypeModel(name)?.kind === 'primitive-type';
}

/** The element at a snapshot path such as `Patient.name` or `Observation.value[x]`. */
export function findElement(path: string): ElementDef | undefined {
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  return getStructureModel(path.slice(0, dot))?.elements.get(path);
}

function loadModel(name: string): TypeModel | undefined {
  const sd = readPackageFile(`StructureDefinition-${name}.json`);
  if (sd?.resourceType !== 'StructureDefinition' || sd.type !== name) return undefined;
  if (sd.url !== CORE_PREFIX + name) return undefined;
  // Element and Resource have no derivation (they derive from nothing); all other base types
  // are specializations. Constraints are profiles and never define a base type.
  const isBase = sd.derivation === 'specialization' || sd.baseDefinition === undefined;
  if (!isBase) return undefined;
  return compileTypeModel(sd);
}
