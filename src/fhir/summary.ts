/**
 * The `_summary` and `_elements` subsets of a resource (FHIR R4 search, §3.1.1.5.7–8), driven
 * by the isSummary and min flags of the base definitions. A subset is tagged SUBSETTED so that
 * nobody mistakes it for the whole record (and never writes it back as one).
 *
 * The result is always a fresh deep copy: callers (obligations that mask fields, serializers)
 * may mutate it without touching a cached or stored resource.
 */

import { getStructureModel } from './definitions.js';
import { isJsonObject, type JsonObject } from './definitions-package.js';
import type { ElementDef, ElementNode, StructureModel } from './element-model.js';

export type SummaryMode = 'true' | 'text' | 'data' | 'false';

const SUBSETTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'subsetted',
} as const;

type Keep = (element: ElementDef) => boolean;

interface Subset {
  readonly value: Record<string, unknown>;
  readonly removed: boolean;
}

/**
 * `true`: summary elements (recursively through backbone elements) and mandatory ones;
 * `text`: text, id, meta and mandatory top-level elements; `data`: everything but text;
 * `false`: everything.
 */
export function applySummary<T extends { resourceType: string }>(resource: T, mode: SummaryMode): T {
  const model = modelOf(resource);
  const source = resource as unknown as JsonObject;
  let subset: Subset;
  switch (mode) {
    case 'false':
      subset = { value: structuredClone(source) as Record<string, unknown>, removed: false };
      break;
    case 'data':
      subset = pick(source, model.root, model, (e) => e.name !== 'text', false);
      break;
    case 'text':
      subset = pick(source, model.root, model, (e) => isAlwaysKept(e) || e.name === 'text', false);
      break;
    case 'true':
      subset = pick(source, model.root, model, (e) => e.isSummary || e.min > 0, true);
      break;
  }
  return finish<T>(subset);
}

/**
 * `_elements`: the listed top-level elements (`name` or `Patient.name`; a choice by its base
 * name `value` or a variant `valueQuantity`) plus id, meta and mandatory top-level elements.
 */
export function applyElements<T extends { resourceType: string }>(resource: T, elements: readonly string[]): T {
  const model = modelOf(resource);
  const wanted = new Set<ElementDef>();
  for (const requested of elements) {
    const [first, second] = requested.trim().split('.');
    const name = first === model.name && second !== undefined ? second : first;
    if (!name) continue;
    const element = model.root.elements.find((e) => e.name === name) ?? model.root.byJsonName.get(name)?.element;
    if (element) wanted.add(element);
  }
  const subset = pick(resource as unknown as JsonObject, model.root, model, (e) => isAlwaysKept(e) || wanted.has(e), false);
  return finish<T>(subset);
}

function modelOf(resource: { resourceType: string }): StructureModel {
  const model = getStructureModel(resource.resourceType);
  // Only stored (hence validated) resources are subsetted; anything else is a programming error.
  if (model?.kind !== 'resource') throw new TypeError('applySummary/applyElements: not a known resource type');
  return model;
}

function isAlwaysKept(element: ElementDef): boolean {
  return element.name === 'id' || element.name === 'meta' || element.min > 0;
}

/** Copies the properties whose element passes `keep`; `_x` siblings follow their element. */
function pick(obj: JsonObject, node: ElementNode, model: StructureModel, keep: Keep, recurse: boolean): Subset {
  const value: Record<string, unknown> = {};
  let removed = false;
  for (const key of Object.keys(obj)) {
    if (key === 'resourceType' && node === model.root) {
      value[key] = obj[key];
      continue;
    }
    const slot = node.byJsonName.get(key.charCodeAt(0) === 95 /* _ */ ? key.slice(1) : key);
    if (!slot || !keep(slot.element)) {
      removed = true;
      continue;
    }
    const child = recurse && slot.element.childNode !== undefined ? model.nodes.get(slot.element.childNode) : undefined;
    if (!child) {
      value[key] = structuredClone(obj[key]);
      continue;
    }
    const items = Array.isArray(obj[key]) ? (obj[key] as unknown[]) : [obj[key]];
    const picked = items.map((item) => {
      if (!isJsonObject(item)) return structuredClone(item);
      const sub = pick(item, child, model, keep, recurse);
      removed ||= sub.removed;
      return sub.value;
    });
    value[key] = Array.isArray(obj[key]) ? picked : picked[0];
  }
  return { value, removed };
}

function finish<T>(subset: Subset): T {
  if (subset.removed) subset.value.meta = withSubsettedTag(subset.value.meta);
  return subset.value as T;
}

function withSubsettedTag(meta: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = isJsonObject(meta) ? { ...meta } : {};
  const tags = Array.isArray(copy.tag) ? [...(copy.tag as unknown[])] : [];
  const present = tags.some((t) => isJsonObject(t) && t.system === SUBSETTED.system && t.code === SUBSETTED.code);
  if (!present) tags.push({ ...SUBSETTED });
  copy.tag = tags;
  return copy;
}
