/**
 * The compiled form of a base StructureDefinition: each element's cardinality, types, flags and
 * required binding, grouped into nodes (the type root and every backbone element) keyed by the
 * JSON property names they accept. Validation and _summary walk these nodes instead of the raw
 * snapshot so that per-request work is map lookups, not scans.
 */
import { canonicalBase, isJsonObject, type JsonObject } from './definitions-package.js';

export interface ElementType {
  /** FHIR type code: `string`, `HumanName`, `BackboneElement`, `Resource`, … */
  readonly code: string;
  /** For Reference/canonical: the allowed target profiles, e.g. `…/StructureDefinition/Patient`. */
  readonly targetProfiles: readonly string[];
}

export interface ElementDef {
  /** Snapshot path, e.g. `Observation.value[x]`. */
  readonly path: string;
  /** Last path segment without `[x]`, e.g. `value`. */
  readonly name: string;
  readonly min: number;
  /** Upper cardinality; `Infinity` for `*`. */
  readonly max: number;
  /** JSON arrays are used exactly when the base cardinality allows more than one. */
  readonly isArray: boolean;
  readonly isChoice: boolean;
  readonly types: readonly ElementType[];
  readonly isSummary: boolean;
  readonly isModifier: boolean;
  /** ValueSet canonical (without version) when the binding strength is `required`. */
  readonly requiredValueSet: string | undefined;
  /** Target path of a `contentReference` (`#Questionnaire.item` → `Questionnaire.item`). */
  readonly contentReference: string | undefined;
  /** Path of the node that describes this element's children, when it is a backbone element. */
  readonly childNode: string | undefined;
  /** Every JSON property name this element may appear under (`valueString`, `valueQuantity`, …). */
  readonly jsonNames: readonly string[];
}

/** A JSON property accepted by a node, with the type it implies (fixed for choice variants). */
export interface JsonSlot {
  readonly element: ElementDef;
  readonly type: ElementType;
}

export interface ElementNode {
  readonly path: string;
  readonly elements: readonly ElementDef[];
  readonly byJsonName: ReadonlyMap<string, JsonSlot>;
  readonly required: readonly ElementDef[];
}

export interface StructureModel {
  readonly kind: 'resource' | 'complex-type';
  readonly name: string;
  readonly abstract: boolean;
  readonly root: ElementNode;
  readonly nodes: ReadonlyMap<string, ElementNode>;
  readonly elements: ReadonlyMap<string, ElementDef>;
}

export interface PrimitiveModel {
  readonly kind: 'primitive-type';
  readonly name: string;
  /** Anchored regex from the spec's `regex` extension on `<type>.value`; absent for xhtml. */
  readonly pattern: RegExp | undefined;
}

export type TypeModel = StructureModel | PrimitiveModel;

const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const REGEX_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/regex';
const SYSTEM_TYPE_PREFIX = 'http://hl7.org/fhirpath/System.';

interface RawElement {
  readonly path: string;
  readonly json: JsonObject;
}

export function compileTypeModel(sd: JsonObject): TypeModel | undefined {
  const name = sd.type;
  const kind = sd.kind;
  const snapshot = sd.snapshot;
  if (typeof name !== 'string' || !isJsonObject(snapshot) || !Array.isArray(snapshot.element)) return undefined;
  const raw: RawElement[] = [];
  for (const element of snapshot.element as unknown[]) {
    if (isJsonObject(element) && typeof element.path === 'string') raw.push({ path: element.path, json: element });
  }
  if (kind === 'primitive-type') return { kind, name, pattern: primitivePattern(name, raw) };
  if (kind !== 'resource' && kind !== 'complex-type') return undefined;
  return compileStructure(kind, name, sd.abstract === true, raw);
}

/**
 * Spec regexes whose backtracking is exponential on hostile input, replaced by equivalent
 * unambiguous ones. base64Binary's `(\s*([0-9a-zA-Z\+\=]){4}\s*)+` takes hours on ~200 characters
 * of "AAAA  …!" (a denial of service by any client that may write); this form matches the same
 * strings (groups of four base64 characters, whitespace anywhere) in linear time.
 */
const LINEAR_PATTERNS: Readonly<Record<string, RegExp>> = {
  base64Binary: /^[ \t\n\v\f\r]*(?:(?:[A-Za-z0-9+/=][ \t\n\v\f\r]*){4})+$/,
};

function primitivePattern(name: string, raw: readonly RawElement[]): RegExp | undefined {
  if (LINEAR_PATTERNS[name]) return LINEAR_PATTERNS[name];
  const value = raw.find((e) => e.path === `${name}.value`);
  for (const type of arrayOf(value?.json.type)) {
    for (const ext of arrayOf(type.extension)) {
      if (ext.url === REGEX_EXTENSION && typeof ext.valueString === 'string') {
        return new RegExp(`^(?:${javaWhitespace(ext.valueString)})$`);
      }
    }
  }
  return undefined;
}

// The spec's regexes use Java semantics, where \s is only [ \t\n\x0B\f\r]; JavaScript's \s also
// matches Unicode spaces, which would reject valid strings containing e.g. a no-break space.
const JAVA_SPACE = ' \\t\\n\\x0B\\f\\r';
const JAVA_NON_SPACE = '\\x00-\\x08\\x0E-\\x1F\\x21-\\uFFFF';

function javaWhitespace(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '\\' && i + 1 < pattern.length) {
      const next = pattern[++i];
      if (next === 's') out += inClass ? JAVA_SPACE : `[${JAVA_SPACE}]`;
      else if (next === 'S') out += inClass ? JAVA_NON_SPACE : `[${JAVA_NON_SPACE}]`;
      else out += `\\${next}`;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    out += char;
  }
  return out;
}

function compileStructure(kind: 'resource' | 'complex-type', name: string, abstract: boolean, raw: readonly RawElement[]): StructureModel {
  const childPaths = new Set<string>();
  for (const { path } of raw) {
    const dot = path.lastIndexOf('.');
    if (dot > 0) childPaths.add(path.slice(0, dot));
  }
  const byPath = new Map(raw.map((e) => [e.path, e.json]));
  const elements = new Map<string, ElementDef>();
  const members = new Map<string, ElementDef[]>();
  for (const { path, json } of raw) {
    const dot = path.lastIndexOf('.');
    if (dot < 0) continue;
    const def = compileElement(kind, name, path, json, byPath, childPaths);
    elements.set(path, def);
    const parent = path.slice(0, dot);
    const list = members.get(parent) ?? [];
    list.push(def);
    members.set(parent, list);
  }
  const nodes = new Map<string, ElementNode>();
  for (const [path, list] of members) nodes.set(path, buildNode(path, list));
  const root = nodes.get(name) ?? buildNode(name, []);
  return { kind, name, abstract, root, nodes, elements };
}

function compileElement(
  kind: 'resource' | 'complex-type',
  typeName: string,
  path: string,
  json: JsonObject,
  byPath: ReadonlyMap<string, JsonObject>,
  childPaths: ReadonlySet<string>,
): ElementDef {
  const segment = path.slice(path.lastIndexOf('.') + 1);
  const isChoice = segment.endsWith('[x]');
  const name = isChoice ? segment.slice(0, -3) : segment;
  const contentReference = typeof json.contentReference === 'string' ? json.contentReference.replace(/^#/, '') : undefined;
  // A contentReference element has no types of its own; it reuses the referenced element's.
  const typeSource = contentReference ? (byPath.get(contentReference) ?? json) : json;
  const types = arrayOf(typeSource.type).map((t) => compileType(t, kind === 'resource' && path === `${typeName}.id`));
  const base = isJsonObject(json.base) ? json.base : undefined;
  const maxText = typeof base?.max === 'string' ? base.max : json.max;
  const max = parseMax(json.max);
  const binding = isJsonObject(json.binding) ? json.binding : undefined;
  const requiredValueSet =
    binding?.strength === 'required' && typeof binding.valueSet === 'string' ? canonicalBase(binding.valueSet) : undefined;
  const childNode = contentReference ?? (childPaths.has(path) ? path : undefined);
  const jsonNames = isChoice ? types.map((t) => name + upperFirst(t.code)) : [name];
  return {
    path,
    name,
    min: typeof json.min === 'number' ? json.min : 0,
    max,
    isArray: parseMax(maxText) > 1,
    isChoice,
    types,
    isSummary: json.isSummary === true,
    isModifier: json.isModifier === true,
    requiredValueSet,
    contentReference,
    childNode,
    jsonNames,
  };
}

function compileType(json: JsonObject, isResourceId: boolean): ElementType {
  let code = typeof json.code === 'string' ? json.code : 'Element';
  if (code.startsWith(SYSTEM_TYPE_PREFIX)) {
    // R4 snapshots type Element.id, Extension.url and primitive values with FHIRPath system
    // types; the fhir-type extension names the FHIR primitive to check against.
    const fhirType = arrayOf(json.extension).find((e) => e.url === FHIR_TYPE_EXTENSION)?.valueUrl;
    code = typeof fhirType === 'string' ? fhirType : 'string';
  }
  // The 4.0.1 snapshots say `string` for Resource.id, but the R4 specification defines it as
  // `id`; enforcing the id pattern keeps ids safe for URLs and storage keys.
  if (isResourceId) code = 'id';
  const targetProfiles = Array.isArray(json.targetProfile) ? json.targetProfile.filter((p): p is string => typeof p === 'string') : [];
  return { code, targetProfiles };
}

function buildNode(path: string, elements: readonly ElementDef[]): ElementNode {
  const byJsonName = new Map<string, JsonSlot>();
  for (const element of elements) {
    element.types.forEach((type, i) => {
      const jsonName = element.jsonNames[element.isChoice ? i : 0];
      if (jsonName !== undefined && !byJsonName.has(jsonName)) byJsonName.set(jsonName, { element, type });
    });
    // An element with no type (should not happen in base definitions) is still addressable.
    if (element.types.length === 0) byJsonName.set(element.name, { element, type: { code: 'Element', targetProfiles: [] } });
  }
  return { path, elements, byJsonName, required: elements.filter((e) => e.min > 0) };
}

function parseMax(max: unknown): number {
  if (max === '*') return Number.POSITIVE_INFINITY;
  const n = typeof max === 'string' ? Number.parseInt(max, 10) : Number.NaN;
  return Number.isNaN(n) ? 1 : n;
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function arrayOf(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isJsonObject) : [];
}
