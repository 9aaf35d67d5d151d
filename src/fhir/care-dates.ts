import { RESOURCE_TYPES } from './definitions.js';
import { searchParameter } from './search-parameters.js';

const CLINICAL_DATE = 'http://hl7.org/fhir/SearchParameter/clinical-date';

/**
 * The care date of types that are not covered by R4's common `clinical-date` parameter: when the
 * care happened (onset, authored, performed, collected, billed for), not when the record was
 * written. Types absent here and without `clinical-date` have no care date (Patient, Coverage,
 * Practitioner, Medication, Provenance…).
 */
const OWN_CARE_DATE: Readonly<Record<string, string>> = {
  AdverseEvent: 'date',
  Appointment: 'date',
  ChargeItem: 'occurrence',
  Claim: 'created',
  ClaimResponse: 'created',
  Communication: 'sent',
  CommunicationRequest: 'occurrence',
  Condition: 'onset-date',
  DeviceRequest: 'event-date',
  DocumentReference: 'period',
  ExplanationOfBenefit: 'created',
  Goal: 'start-date',
  ImagingStudy: 'started',
  ImmunizationEvaluation: 'date',
  ImmunizationRecommendation: 'date',
  Invoice: 'date',
  Media: 'created',
  MedicationAdministration: 'effective-time',
  MedicationDispense: 'whenhandedover',
  MedicationRequest: 'authoredon',
  MedicationStatement: 'effective',
  NutritionOrder: 'datetime',
  QuestionnaireResponse: 'authored',
  RequestGroup: 'authored',
  ServiceRequest: 'occurrence',
  Specimen: 'collected',
  VisionPrescription: 'datewritten',
};

let table: ReadonlyMap<string, string> | undefined;

/**
 * The date search parameter that holds each type's care date, for `$everything`'s `start` and
 * `end` ("care dates, not record currency dates"): `date` where the R4 definitions make it the
 * common clinical-date parameter, otherwise the parameter named above. Checked against the
 * definitions when first built: a name that is not a date parameter of its type is a TypeError.
 */
export function careDateParameters(): ReadonlyMap<string, string> {
  table ??= build(RESOURCE_TYPES);
  return table;
}

function build(types: readonly string[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const type of types) {
    if (searchParameter(type, 'date')?.url === CLINICAL_DATE) out.set(type, 'date');
  }
  for (const [type, code] of Object.entries(OWN_CARE_DATE)) {
    const sp = searchParameter(type, code);
    if (sp?.type !== 'date') throw new TypeError(`care date of ${type}: ${code} is not a date search parameter`);
    out.set(type, code);
  }
  return out;
}
