import type { SensitivityCode } from './security-labels.js';

/**
 * Which clinical codes make a resource sensitive. A rule matches a code of one system by exact
 * code or by ICD-10 category range; the lists are deliberately short and cited, not a terminology
 * service: SNOMED CT has no subsumption here, so only the named concepts match, and anything the
 * rules miss is labelled explicitly by an authorized user (meta.security), which always wins.
 */
export const ICD10_CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';

export interface LabelRule {
  readonly id: string;
  readonly labels: readonly SensitivityCode[];
  readonly system: string;
  /** ICD-10 categories (letter + two digits) from … to, inclusive; or exact codes. */
  readonly categories?: readonly [from: string, to: string][];
  readonly codes?: readonly string[];
}

const ICD_SYSTEMS = [ICD10_CM, ICD10];

/** The same ICD-10 rule for ICD-10-CM and WHO ICD-10 (the categories used here coincide). */
const icd = (id: string, labels: SensitivityCode[], categories: [string, string][], codes: string[] = []): LabelRule[] =>
  ICD_SYSTEMS.map((system) => ({ id: `${id}@${system === ICD10_CM ? 'icd-10-cm' : 'icd-10'}`, labels, system, categories, codes }));

export const LABEL_RULES: readonly LabelRule[] = [
  // 42 CFR Part 2: ICD-10-CM F10–F19, mental and behavioural disorders due to psychoactive substance use.
  ...icd('sud-icd', ['ETH', 'SUD'], [['F10', 'F19']]),
  {
    id: 'sud-snomed',
    labels: ['ETH', 'SUD'],
    system: SNOMED,
    // Substance abuse, alcoholism, alcohol abuse, drug dependence (disorders).
    codes: ['66214007', '7200002', '15167005', '191816009'],
  },
  // Psychiatric disorders: F20–F69 (schizophrenia, mood, anxiety, behavioural syndromes, personality disorders).
  ...icd('psy-icd', ['PSY'], [['F20', 'F69']]),
  // Depressive disorder, schizophrenia, bipolar disorder.
  { id: 'psy-snomed', labels: ['PSY'], system: SNOMED, codes: ['35489007', '58214004', '13746004'] },
  // HIV disease (B20), asymptomatic HIV infection status (Z21), inconclusive HIV laboratory evidence (R75), HIV counselling (Z71.7).
  ...icd(
    'hiv-icd',
    ['HIV'],
    [
      ['B20', 'B20'],
      ['Z21', 'Z21'],
      ['R75', 'R75'],
    ],
    ['Z71.7'],
  ),
  // HIV infection, HIV positive.
  { id: 'hiv-snomed', labels: ['HIV'], system: SNOMED, codes: ['86406008', '165816005'] },
  // HIV 1 Ab [Presence] in Serum; HIV 1+2 Ab [Presence] by immunoassay; by rapid immunoassay.
  { id: 'hiv-loinc', labels: ['HIV'], system: LOINC, codes: ['7917-8', '31201-7', '80387-4'] },
  // Infections with a predominantly sexual mode of transmission (A50–A64).
  ...icd('std-icd', ['STD'], [['A50', 'A64']]),
  // Adult and child abuse, neglect and other maltreatment, confirmed (T74) and suspected (T76); perpetrator of maltreatment (Y07).
  ...icd(
    'sdv-icd',
    ['SDV'],
    [
      ['T74', 'T74'],
      ['T76', 'T76'],
      ['Y07', 'Y07'],
    ],
  ),
  // Contraceptive management (Z30); complications following induced termination of pregnancy (O04).
  ...icd(
    'sex-icd',
    ['SEX'],
    [
      ['Z30', 'Z30'],
      ['O04', 'O04'],
    ],
  ),
  // Genetic carrier (Z14) and genetic susceptibility to disease (Z15).
  ...icd('gdis-icd', ['GDIS'], [['Z14', 'Z15']]),
];

/** Whether a rule matches one coding. ICD codes compare without the dot and case-insensitively. */
export function ruleMatches(rule: LabelRule, system: string, code: string): boolean {
  if (rule.system !== system) return false;
  if (rule.codes?.includes(code)) return true;
  if (!rule.categories) return false;
  const normalized = code.replace('.', '').toUpperCase();
  if (rule.codes?.some((c) => c.replace('.', '').toUpperCase() === normalized)) return true;
  if (!/^[A-Z]\d\d/.test(normalized)) return false;
  const category = normalized.slice(0, 3);
  return rule.categories.some(([from, to]) => category >= from && category <= to);
}
