/**
 * Security labels (FHIR `meta.security`) as the policy reads them: one HL7 v3 confidentiality
 * code and any number of v3 ActCode information-sensitivity codes. Codes are those of the R4
 * terminology (checked against the installed package by test/policy/security-labels.test.ts).
 */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
/** Integrity observations (SUBSETTED, REDACTED) live in v3-ObservationValue. */
export const OBSERVATION_VALUE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue';

/** v3 Confidentiality, lowest to highest (U unrestricted … V very restricted). */
export const CONFIDENTIALITY_ORDER = ['U', 'L', 'M', 'N', 'R', 'V'] as const;
export type Confidentiality = (typeof CONFIDENTIALITY_ORDER)[number];

/**
 * The v3 ActCode information-sensitivity codes Ward acts on. ETH and SUD both mark substance-use
 * information (42 CFR Part 2): ETH is the code DS4P and Part 2 guidance use, SUD its newer
 * specially-protected sibling; Ward treats them as one class (see SENSITIVITY_CLASS).
 */
export const SENSITIVITY_CODES = ['ETH', 'SUD', 'PSY', 'PSYTHPN', 'MH', 'BH', 'HIV', 'STD', 'SDV', 'SEX', 'GDIS'] as const;
export type SensitivityCode = (typeof SENSITIVITY_CODES)[number];

export function isSensitivityCode(code: string): code is SensitivityCode {
  return (SENSITIVITY_CODES as readonly string[]).includes(code);
}

/** The class a grant or a consent names: ETH and SUD are one (Part 2), the others themselves. */
export function sensitivityClass(code: SensitivityCode): SensitivityCode {
  return code === 'SUD' ? 'ETH' : code;
}

export interface SecurityLabel {
  readonly system: string;
  readonly code: string;
}

/** The labels of a resource as the policy decides on them. */
export interface Labels {
  readonly confidentiality: Confidentiality;
  readonly sensitivity: readonly SensitivityCode[];
}

export function higherConfidentiality(a: Confidentiality, b: Confidentiality): Confidentiality {
  return CONFIDENTIALITY_ORDER.indexOf(a) >= CONFIDENTIALITY_ORDER.indexOf(b) ? a : b;
}

/** Reads labels from `meta.security` codings; other systems and unknown codes are ignored. */
export function labelsOf(security: readonly SecurityLabel[]): Labels {
  let confidentiality: Confidentiality = 'N';
  let explicit = false;
  const sensitivity = new Set<SensitivityCode>();
  for (const label of security) {
    if (label.system === CONFIDENTIALITY_SYSTEM && (CONFIDENTIALITY_ORDER as readonly string[]).includes(label.code)) {
      confidentiality = explicit ? higherConfidentiality(confidentiality, label.code as Confidentiality) : (label.code as Confidentiality);
      explicit = true;
    }
    if (label.system === ACT_CODE_SYSTEM && isSensitivityCode(label.code)) sensitivity.add(label.code);
  }
  return { confidentiality, sensitivity: [...sensitivity].sort() };
}

/** The `meta.security` codings for a set of labels (confidentiality first). */
export function securityCodings(labels: Labels): SecurityLabel[] {
  return [
    { system: CONFIDENTIALITY_SYSTEM, code: labels.confidentiality },
    ...labels.sensitivity.map((code) => ({ system: ACT_CODE_SYSTEM, code })),
  ];
}
