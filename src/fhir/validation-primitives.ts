/**
 * Checks one JSON value against a FHIR primitive type: first its JSON kind (boolean, number or
 * string, per the R4 JSON format), then its lexical form using the regex published in the
 * type's StructureDefinition, then numeric ranges that a regex cannot express.
 */
import { getTypeModel } from './definitions.js';

/** `json-type`: wrong JSON kind (e.g. a string for a boolean); `format`: right kind, bad value. */
export type PrimitiveProblem = 'json-type' | 'format';

const INT32_MAX = 2_147_483_647;
const INTEGER_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  integer: [-INT32_MAX - 1, INT32_MAX],
  positiveInt: [1, INT32_MAX],
  unsignedInt: [0, INT32_MAX],
};
// R4: "strings SHALL NOT exceed 1MB in size" (maxLength on every string-based primitive).
const MAX_STRING_LENGTH = 1_048_576;
// Narrative is stored and served as-is, so only its envelope is checked: an XHTML <div> root.
const XHTML_DIV = /^\s*<div[\s>/]/u;

export function checkPrimitive(type: string, value: unknown): PrimitiveProblem | undefined {
  if (type === 'boolean') return typeof value === 'boolean' ? undefined : 'json-type';
  const range = INTEGER_RANGES[type];
  if (range !== undefined) {
    if (typeof value !== 'number') return 'json-type';
    return Number.isInteger(value) && value >= range[0] && value <= range[1] ? undefined : 'format';
  }
  if (type === 'decimal') {
    if (typeof value !== 'number') return 'json-type';
    return Number.isFinite(value) ? undefined : 'format';
  }
  if (typeof value !== 'string') return 'json-type';
  // xhtml has no length limit in R4 (terminology narratives exceed 1MB); the body limit applies.
  if (type === 'xhtml') return XHTML_DIV.test(value) ? undefined : 'format';
  if (value.length > MAX_STRING_LENGTH) return 'format';
  const model = getTypeModel(type);
  const pattern = model?.kind === 'primitive-type' ? model.pattern : undefined;
  return pattern === undefined || pattern.test(value) ? undefined : 'format';
}

/** The JSON kind a primitive type uses, for diagnostics. */
export function jsonKindOf(type: string): 'boolean' | 'number' | 'string' {
  if (type === 'boolean') return 'boolean';
  return type === 'decimal' || INTEGER_RANGES[type] !== undefined ? 'number' : 'string';
}
