/**
 * HL7 v3 PurposeOfUse (CodeSystem v3-ActReason, the `PurposeOfUse` subtree, as published with
 * FHIR R4): each code with its parent and display. A test compares this table with the R4
 * definitions package, so it cannot drift from the published hierarchy.
 */
export const PURPOSE_OF_USE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

const PURPOSES: readonly (readonly [code: string, parent: string | null, display: string])[] = [
  ['HMARKT', null, 'healthcare marketing'],
  ['HOPERAT', null, 'healthcare operations'],
  ['CAREMGT', 'HOPERAT', 'care management'],
  ['DONAT', 'HOPERAT', 'donation'],
  ['FRAUD', 'HOPERAT', 'fraud'],
  ['GOV', 'HOPERAT', 'government'],
  ['HACCRED', 'HOPERAT', 'health accreditation'],
  ['HCOMPL', 'HOPERAT', 'health compliance'],
  ['HDECD', 'HOPERAT', 'decedent'],
  ['HDIRECT', 'HOPERAT', 'directory'],
  ['HDM', 'HOPERAT', 'healthcare delivery management'],
  ['HLEGAL', 'HOPERAT', 'legal'],
  ['HOUTCOMS', 'HOPERAT', 'health outcome measure'],
  ['HPRGRP', 'HOPERAT', 'health program reporting'],
  ['HQUALIMP', 'HOPERAT', 'health quality improvement'],
  ['HSYSADMIN', 'HOPERAT', 'health system administration'],
  ['LABELING', 'HSYSADMIN', 'labeling'],
  ['METAMGT', 'HSYSADMIN', 'metadata management'],
  ['MEMADMIN', 'HOPERAT', 'member administration'],
  ['MILCDM', 'HOPERAT', 'military command'],
  ['PATADMIN', 'HOPERAT', 'patient administration'],
  ['PATSFTY', 'HOPERAT', 'patient safety'],
  ['PERFMSR', 'HOPERAT', 'performance measure'],
  ['RECORDMGT', 'HOPERAT', 'records management'],
  ['SYSDEV', 'HOPERAT', 'system development'],
  ['HTEST', 'SYSDEV', 'test health data'],
  ['TRAIN', 'HOPERAT', 'training'],
  ['HPAYMT', null, 'healthcare payment'],
  ['CLMATTCH', 'HPAYMT', 'claim attachment'],
  ['COVAUTH', 'HPAYMT', 'coverage authorization'],
  ['COVERAGE', 'HPAYMT', 'coverage under policy or program'],
  ['ELIGDTRM', 'COVERAGE', 'eligibility determination'],
  ['ELIGVER', 'COVERAGE', 'eligibility verification'],
  ['ENROLLM', 'COVERAGE', 'enrollment'],
  ['MILDCRG', 'COVERAGE', 'military discharge'],
  ['REMITADV', 'HPAYMT', 'remittance advice'],
  ['HRESCH', null, 'healthcare research'],
  ['BIORCH', 'HRESCH', 'biomedical research'],
  ['CLINTRCH', 'HRESCH', 'clinical trial research'],
  ['CLINTRCHNPC', 'CLINTRCH', 'clinical trial research without patient care'],
  ['CLINTRCHPC', 'CLINTRCH', 'clinical trial research with patient care'],
  ['PRECLINTRCH', 'CLINTRCH', 'preclinical trial research'],
  ['DSRCH', 'HRESCH', 'disease specific healthcare research'],
  ['POARCH', 'HRESCH', 'population origins or ancestry healthcare research'],
  ['TRANSRCH', 'HRESCH', 'translational healthcare research'],
  ['PATRQT', null, 'patient requested'],
  ['FAMRQT', 'PATRQT', 'family requested'],
  ['PWATRNY', 'PATRQT', 'power of attorney'],
  ['SUPNWK', 'PATRQT', 'support network'],
  ['PUBHLTH', null, 'public health'],
  ['DISASTER', 'PUBHLTH', 'disaster'],
  ['THREAT', 'PUBHLTH', 'threat'],
  ['TREAT', null, 'treatment'],
  ['CLINTRL', 'TREAT', 'clinical trial'],
  ['COC', 'TREAT', 'coordination of care'],
  ['ETREAT', 'TREAT', 'Emergency Treatment'],
  ['BTG', 'ETREAT', 'break the glass'],
  ['ERTREAT', 'ETREAT', 'emergency room treatment'],
  ['POPHLTH', 'TREAT', 'population health'],
];

const PARENT = new Map(PURPOSES.map(([code, parent]) => [code, parent]));
const DISPLAY = new Map(PURPOSES.map(([code, , display]) => [code, display]));

/** Every PurposeOfUse code with its parent (null for the top-level codes), for the drift test. */
export function purposeOfUseHierarchy(): ReadonlyMap<string, string | null> {
  return PARENT;
}

export function isPurposeOfUse(code: string): boolean {
  return PARENT.has(code);
}

export function purposeOfUseDisplay(code: string): string | undefined {
  return DISPLAY.get(code);
}

/** The top-level code a PurposeOfUse code falls under (itself for a top-level code). */
function rootOf(code: string): string | undefined {
  let current: string | undefined = code;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const parent = PARENT.get(current);
    if (parent === undefined) return undefined;
    if (parent === null) return current;
    current = parent;
  }
  return undefined;
}

/**
 * Codes v3 files under HOPERAT whose disclosures HIPAA nonetheless accounts for: they name
 * disclosures to outside bodies under 164.512 — organ procurement (h), decedents to coroners and
 * funeral directors (g), armed forces command (k)(1), judicial and administrative proceedings (e),
 * law enforcement and oversight of fraud (f), (d), and government agencies (d), (k) — none of
 * which 164.528(a)(1) exempts. (HDIRECT, the facility directory, stays out: (a)(1)(iv).)
 */
const ACCOUNTABLE_UNDER_OPERATIONS: ReadonlySet<string> = new Set(['DONAT', 'HDECD', 'MILCDM', 'HLEGAL', 'FRAUD', 'GOV']);

/**
 * Treatment, payment and health care operations (45 CFR 164.506): TREAT, HPAYMT, HOPERAT and
 * every code under them, except the HOPERAT codes above. 164.528(a)(1)(i) leaves these out of the
 * accounting of disclosures.
 */
export function isTpoPurpose(code: string): boolean {
  if (ACCOUNTABLE_UNDER_OPERATIONS.has(code)) return false;
  const root = rootOf(code);
  return root === 'TREAT' || root === 'HPAYMT' || root === 'HOPERAT';
}

/** Requested by the patient, their family, power of attorney or support network (164.528(a)(1)(ii), (iv)). */
export function isPatientDirectedPurpose(code: string): boolean {
  return rootOf(code) === 'PATRQT';
}

/** Every code the accounting of disclosures leaves out: TPO and patient-directed. */
export function unaccountedPurposes(): string[] {
  return [...PARENT.keys()].filter((code) => isTpoPurpose(code) || isPatientDirectedPurpose(code));
}
