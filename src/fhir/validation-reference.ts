/**
 * The shape of `Reference.reference`: a local `#id`, a `urn:uuid:`/`urn:oid:` (bundles), an
 * absolute URL, a relative `Type/id[/_history/vid]`, or a conditional `Type?query` (transaction
 * bundles). A relative or absolute FHIR reference must also name a type that the element's
 * targetProfile allows, so that e.g. Observation.subject cannot point at a Medication.
 */

import { isResourceType } from './definitions.js';
import { canonicalTail } from './definitions-package.js';

export type ReferenceProblem = 'malformed' | 'target-type';

const LOCAL = /^#[A-Za-z0-9\-.]{0,64}$/;
const URN_UUID = /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const URN_OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/\S+$/;
const RELATIVE = /^([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const ABSOLUTE_TAIL = /\/([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const CONDITIONAL = /^([A-Z][A-Za-z]+)\?\S*$/;

export function checkReference(reference: string, targetProfiles: readonly string[]): ReferenceProblem | undefined {
  if (LOCAL.test(reference) || URN_UUID.test(reference) || URN_OID.test(reference)) return undefined;
  let type: string | undefined;
  if (ABSOLUTE.test(reference)) {
    // An absolute URL may point outside FHIR; check the type only when it looks like a FHIR one.
    type = ABSOLUTE_TAIL.exec(reference)?.[1];
    if (type !== undefined && !isResourceType(type)) type = undefined;
  } else {
    type = (RELATIVE.exec(reference) ?? CONDITIONAL.exec(reference))?.[1];
    if (type === undefined || !isResourceType(type)) return 'malformed';
  }
  if (type === undefined) return undefined;
  return targetAllows(targetProfiles, type) ? undefined : 'target-type';
}

function targetAllows(targetProfiles: readonly string[], type: string): boolean {
  if (targetProfiles.length === 0) return true;
  for (const profile of targetProfiles) {
    const target = canonicalTail(profile);
    // `Resource` allows anything; a profile name that is not a base type cannot be judged here.
    if (target === type || target === 'Resource' || !isResourceType(target)) return true;
  }
  return false;
}
