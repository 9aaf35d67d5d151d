import type { FhirResource } from '../fhir/index.js';
import { ACT_CODE_SYSTEM, type Labels, sensitivityClass } from './security-labels.js';

/**
 * 42 CFR Part 2 as the policy reads labels and consents (ADR 0016). Part 2 data is any resource
 * labelled ETH or SUD (one class, ETH). A note — a resource labelled PSYTHPN — is a psychotherapy
 * note (45 CFR 164.501); a note that is also Part 2 data is an SUD counseling note (§2.11: the
 * Part 2 counterpart of a psychotherapy note). Notes are unlocked only by a consent for notes
 * alone (§2.31(b), 164.508(b)(3)(ii)), never by a role, a general consent or break-glass.
 */
export const NOTES_CODE = 'PSYTHPN';

/** Which kind of note a resource is, by its labels, if any. */
export type NoteKind = 'sud-counseling-note' | 'psychotherapy-note';

export function isPart2(labels: Labels): boolean {
  return labels.sensitivity.some((c) => sensitivityClass(c) === 'ETH');
}

export function noteKindOf(labels: Labels): NoteKind | undefined {
  if (!labels.sensitivity.includes(NOTES_CODE)) return undefined;
  return isPart2(labels) ? 'sud-counseling-note' : 'psychotherapy-note';
}

/**
 * A consent for notes alone: every permit provision in it (nested ones included) lists a
 * securityLabel, and every label it lists is PSYTHPN. A Consent that also permits anything else
 * — another class, a confidentiality level, or all data (a permit without securityLabel) — is a
 * combined consent and unlocks no note, whatever else it says (§2.31(b)).
 */
export function isNotesOnlyConsent(consent: FhirResource): boolean {
  let permits = 0;
  const walk = (p: unknown): boolean => {
    if (!isObject(p)) return true;
    if (p.type === 'permit') {
      permits++;
      const labels = Array.isArray(p.securityLabel) ? p.securityLabel : [];
      if (labels.length === 0) return false;
      if (!labels.every((l) => isObject(l) && l.system === ACT_CODE_SYSTEM && l.code === NOTES_CODE)) return false;
    }
    return (Array.isArray(p.provision) ? p.provision : []).every(walk);
  };
  return walk(consent.provision) && permits > 0;
}

/** Elements that name who wrote a resource (DocumentReference/Composition author, Observation performer, recorder, asserter). */
const AUTHOR_ELEMENTS = ['author', 'performer', 'recorder', 'asserter'] as const;

/**
 * The references a resource names as its writer. The originator of a note may use it
 * (164.508(a)(2)(i)(A), §2.31(b)(1)(i)): the policy reads these on notes only.
 */
export function authorsOf(resource: FhirResource): string[] {
  const out = new Set<string>();
  for (const element of AUTHOR_ELEMENTS) {
    const value = resource[element];
    for (const item of Array.isArray(value) ? value : [value])
      if (isObject(item) && typeof item.reference === 'string') out.add(item.reference);
  }
  return [...out];
}

/**
 * The notice that accompanies each disclosure of Part 2 records made with the patient's consent:
 * 42 CFR §2.32(a)(1), Statement 1, as amended by the 2024 final rule (89 FR 12472).
 */
export const REDISCLOSURE_NOTICE =
  'This record which has been disclosed to you is protected by Federal confidentiality rules (42 CFR part 2). ' +
  'These rules prohibit you from using or disclosing this record, or testimony that describes the information contained in this record, ' +
  'in any civil, criminal, administrative, or legislative proceedings by any Federal, State, or local authority, against the patient, ' +
  'unless authorized by the consent of the patient, except as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance ' +
  'with 42 CFR 2.64 or 2.65. In addition, the Federal rules prohibit you from making any other use or disclosure of this record unless ' +
  'at least one of the following applies: A. Further use or disclosure is expressly permitted by the written consent of the individual ' +
  'whose information is being disclosed in this record or as otherwise permitted by 42 CFR part 2. B. You are a covered entity or ' +
  'business associate and have received the record for treatment, payment, or health care operations, or C. You have received the ' +
  'record from a covered entity or business associate as permitted by 45 CFR part 164, subparts A and E. A general authorization for ' +
  'the release of medical or other information is NOT sufficient to meet the required elements of written consent to further use or ' +
  'redisclose the record (see 42 CFR 2.31).';

/** v3 ActCode obligation "no redisclosure without information subject's consent directive": the notice as a label. */
export const NO_REDISCLOSURE_CODE = 'NORDSCLCDS';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
