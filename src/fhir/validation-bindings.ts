/**
 * Required-binding checks for `code`, `Coding` and `CodeableConcept`. A ValueSet the package
 * cannot expand is not checked (see value-set.ts): rejecting codes we cannot judge would block
 * valid clinical data.
 */
import { isJsonObject } from './definitions-package.js';
import { expandValueSet, expansionContains } from './value-set.js';

/**
 * Undefined when the value conforms (or cannot be judged); otherwise the path suffix of the
 * offending part relative to the element (`''`, `.code`, `.coding[1].code`).
 */
export function requiredBindingViolation(valueSetUrl: string, typeCode: string, value: unknown): string | undefined {
  const expansion = expandValueSet(valueSetUrl);
  if (!expansion) return undefined;
  if (typeCode === 'code') {
    return typeof value === 'string' && !expansionContains(expansion, undefined, value) ? '' : undefined;
  }
  if (!isJsonObject(value)) return undefined;
  if (typeCode === 'Coding') {
    if (typeof value.code !== 'string') return undefined;
    const system = typeof value.system === 'string' ? value.system : undefined;
    return expansionContains(expansion, system, value.code) ? undefined : '.code';
  }
  if (typeCode === 'CodeableConcept') {
    const codings = Array.isArray(value.coding) ? value.coding : [];
    const coded: number[] = [];
    for (let i = 0; i < codings.length; i++) {
      const coding: unknown = codings[i];
      if (!isJsonObject(coding) || typeof coding.code !== 'string') continue;
      const system = typeof coding.system === 'string' ? coding.system : undefined;
      if (expansionContains(expansion, system, coding.code)) return undefined;
      coded.push(i);
    }
    // "Required" means the concept SHALL be coded from the value set, so text alone fails too.
    return coded.length === 1 ? `.coding[${coded[0]}].code` : '';
  }
  return undefined;
}
