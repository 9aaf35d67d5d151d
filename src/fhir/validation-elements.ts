/**
 * The recursive walk behind validateResource: every JSON property is matched against the
 * compiled element model of its type, checking unknown properties, JSON arrays vs single
 * values, cardinality, primitive formats, `_element` siblings, choice types, backbone elements,
 * contentReference, nested resources, Extension and Reference shapes, and required bindings.
 *
 * Invariants (FHIRPath constraints) are not evaluated, except two universal ones that cost a
 * key count: ele-1 (an element has a value or children) and ext-1 (an extension has a value or
 * extensions, not both).
 *
 * Every message is built from the definition and indexes only — never from the input, not even
 * an unknown property name, since a client can put anything in a key (invariant 5).
 */

import { getStructureModel, getTypeModel, isResourceType } from './definitions.js';
import { isJsonObject, type JsonObject } from './definitions-package.js';
import type { ElementDef, ElementNode, ElementType, JsonSlot, StructureModel } from './element-model.js';
import { requiredBindingViolation } from './validation-bindings.js';
import type { IssueCode, IssueSeverity, ValidationIssue } from './validation-issue.js';
import { checkPrimitive, jsonKindOf } from './validation-primitives.js';
import { checkReference } from './validation-reference.js';

// Bounds keep a hostile body from turning validation into a CPU or stack exhaustion attack.
const MAX_ISSUES = 100;
const MAX_DEPTH = 128;

export class Walk {
  readonly issues: ValidationIssue[] = [];

  report(severity: IssueSeverity, code: IssueCode, expression: string, diagnostics: string): void {
    if (this.issues.length < MAX_ISSUES) {
      this.issues.push({ severity, code, expression, diagnostics });
    } else if (this.issues.length === MAX_ISSUES) {
      this.issues.push({ severity: 'error', code: 'invalid', expression, diagnostics: `Validation stopped after ${MAX_ISSUES} issues` });
    }
  }

  /** Validates a (possibly nested) resource; returns its type when it is a known one. */
  resource(value: unknown, path: string, depth: number, severity: IssueSeverity): string | undefined {
    if (!isJsonObject(value)) {
      this.report(severity, 'structure', path, 'A resource must be a JSON object');
      return undefined;
    }
    const type = value.resourceType;
    if (type === undefined) {
      this.report(severity, 'required', path, 'A resource must have a resourceType');
      return undefined;
    }
    const model = typeof type === 'string' && isResourceType(type) ? getStructureModel(type) : undefined;
    if (!model) {
      this.report(severity, 'not-supported', path, 'resourceType is not a known R4 resource type');
      return undefined;
    }
    this.object(value, model.root, model, path === '' ? model.name : path, depth + 1, true);
    return model.name;
  }

  private object(obj: JsonObject, node: ElementNode, model: StructureModel, path: string, depth: number, isResource: boolean): void {
    if (depth > MAX_DEPTH) {
      this.report('error', 'structure', path, `Nesting deeper than ${MAX_DEPTH} levels`);
      return;
    }
    let choices: Map<ElementDef, true> | undefined;
    let content = 0;
    for (const key of Object.keys(obj)) {
      if (isResource && key === 'resourceType') continue;
      if (key !== 'id') content++;
      if (key.charCodeAt(0) === 95 /* _ */) {
        this.primitiveSibling(obj, key, node, path, depth);
        continue;
      }
      const slot = node.byJsonName.get(key);
      if (!slot) {
        this.report('error', 'structure', path, `Unknown property: not an element of ${node.path}`);
        continue;
      }
      if (slot.element.isChoice) {
        choices ??= new Map();
        if (choices.has(slot.element)) {
          this.report('error', 'structure', `${path}.${slot.element.name}`, `Only one type of ${slot.element.path} may be present`);
        }
        choices.set(slot.element, true);
      }
      this.slot(slot, obj[key], obj[`_${key}`], `${path}.${key}`, model, depth);
    }
    for (const element of node.required) {
      if (!isPresent(obj, element)) {
        this.report('error', 'required', `${path}.${element.name}`, `${element.path} is required (min ${element.min})`);
      }
    }
    if (!isResource && content === 0) {
      this.report('error', 'invariant', path, 'ele-1: an element must have a value or children');
    }
  }

  private slot(slot: JsonSlot, value: unknown, sibling: unknown, path: string, model: StructureModel, depth: number): void {
    const element = slot.element;
    if (!element.isArray) {
      if (Array.isArray(value)) this.report('error', 'structure', path, `${element.path} has max 1 and must not be a JSON array`);
      else if (value === null) this.report('error', 'structure', path, `${element.path} must not be null`);
      else this.value(element, slot.type, value, path, model, depth);
      return;
    }
    if (!Array.isArray(value)) {
      this.report('error', 'structure', path, `${element.path} repeats and must be a JSON array`);
      return;
    }
    if (value.length === 0) this.report('error', 'structure', path, `${element.path} must not be an empty array`);
    if (value.length > element.max) this.report('error', 'structure', path, `${element.path} allows at most ${element.max} items`);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === null) {
        // JSON primitive arrays may hold null only where the `_element` array carries the data.
        if (!Array.isArray(sibling) || sibling[i] === null || sibling[i] === undefined) {
          this.report('error', 'structure', `${path}[${i}]`, `${element.path} items must not be null`);
        }
        continue;
      }
      this.value(element, slot.type, item, `${path}[${i}]`, model, depth);
    }
  }

  private value(element: ElementDef, type: ElementType, value: unknown, path: string, model: StructureModel, depth: number): void {
    if (element.childNode !== undefined) {
      const node = model.nodes.get(element.childNode);
      if (node && this.isObject(value, element, path)) this.object(value, node, model, path, depth + 1, false);
      return;
    }
    if (type.code === 'Resource') {
      this.resource(value, path, depth, 'error');
      return;
    }
    const typeModel = getTypeModel(type.code);
    if (!typeModel) return;
    if (typeModel.kind === 'primitive-type') {
      this.primitive(element, type.code, value, path);
      return;
    }
    if (!this.isObject(value, element, path)) return;
    this.object(value, typeModel.root, typeModel, path, depth + 1, false);
    if (type.code === 'Extension') this.extension(value, path);
    else if (type.code === 'Reference' && typeof value.reference === 'string') {
      const problem = checkReference(value.reference, type.targetProfiles);
      if (problem === 'malformed') {
        this.report(
          'error',
          'value',
          `${path}.reference`,
          'Reference must be #id, Type/id, a conditional Type?query, a URN or an absolute URL',
        );
      } else if (problem === 'target-type') {
        this.report('error', 'value', `${path}.reference`, `Reference target type is not allowed for ${element.path}`);
      }
    } else if (element.requiredValueSet !== undefined) {
      this.binding(element, type.code, value, path);
    }
  }

  private primitive(element: ElementDef, type: string, value: unknown, path: string): void {
    const problem = checkPrimitive(type, value);
    if (problem === 'json-type') {
      this.report('error', 'structure', path, `${element.path} is of type ${type} and must be a JSON ${jsonKindOf(type)}`);
    } else if (problem === 'format') {
      this.report('error', 'value', path, `${element.path} is not a valid ${type}`);
    } else if (type === 'code' && element.requiredValueSet !== undefined) {
      this.binding(element, type, value, path);
    }
  }

  private binding(element: ElementDef, type: string, value: unknown, path: string): void {
    const url = element.requiredValueSet as string;
    const suffix = requiredBindingViolation(url, type, value);
    if (suffix !== undefined) {
      this.report('error', 'code-invalid', path + suffix, `Code is not in the required value set ${url} (${element.path})`);
    }
  }

  private extension(value: JsonObject, path: string): void {
    let hasValue = false;
    for (const key of Object.keys(value)) {
      if (key.startsWith('value') || key.startsWith('_value')) hasValue = true;
    }
    const hasExtensions = Array.isArray(value.extension) && value.extension.length > 0;
    if (hasValue === hasExtensions) {
      this.report('error', 'invariant', path, 'ext-1: an extension must have either extensions or a value[x], not both');
    }
  }

  /** `_given: [null, {extension: …}]` — id/extensions of a primitive, aligned with its value. */
  private primitiveSibling(obj: JsonObject, key: string, node: ElementNode, path: string, depth: number): void {
    const name = key.slice(1);
    const slot = node.byJsonName.get(name);
    const elementModel = getStructureModel('Element');
    if (!slot || getTypeModel(slot.type.code)?.kind !== 'primitive-type' || !elementModel) {
      this.report('error', 'structure', path, `Unknown property: not a primitive element of ${node.path}`);
      return;
    }
    const sibling = obj[key];
    const itemPath = `${path}.${name}`;
    if (!slot.element.isArray) {
      if (isJsonObject(sibling)) this.object(sibling, elementModel.root, elementModel, itemPath, depth + 1, false);
      else this.report('error', 'structure', itemPath, `The _ sibling of ${slot.element.path} must be a JSON object`);
      return;
    }
    const values = obj[name];
    if (!Array.isArray(sibling) || (Array.isArray(values) && values.length !== sibling.length)) {
      this.report('error', 'structure', itemPath, `The _ sibling of ${slot.element.path} must be an array aligned with its values`);
      return;
    }
    for (let i = 0; i < sibling.length; i++) {
      const item: unknown = sibling[i];
      if (item === null) continue;
      if (isJsonObject(item)) this.object(item, elementModel.root, elementModel, `${itemPath}[${i}]`, depth + 1, false);
      else this.report('error', 'structure', `${itemPath}[${i}]`, `The _ sibling items of ${slot.element.path} must be objects or null`);
    }
  }

  private isObject(value: unknown, element: ElementDef, path: string): value is JsonObject {
    if (isJsonObject(value)) return true;
    this.report('error', 'structure', path, `${element.path} must be a JSON object`);
    return false;
  }
}

function isPresent(obj: JsonObject, element: ElementDef): boolean {
  for (const name of element.jsonNames) {
    if (obj[name] !== undefined || obj[`_${name}`] !== undefined) return true;
  }
  return false;
}
