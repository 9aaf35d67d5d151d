import { parseScopes, type ResourceScope, ScopeSyntaxError } from '../policy/index.js';

/** One line of the consent page: the scope as requested, and what it lets the app do in plain words. */
export interface ScopeLine {
  readonly scope: string;
  readonly words: string;
  /** Resource scopes can be left out by the user (down-scoping); the others come with the request. */
  readonly optional: boolean;
}

const NAMED: Readonly<Record<string, string>> = {
  openid: 'Confirm that it is you who signed in',
  fhirUser: 'Know which person in Ward you are (a link to your record, not its contents)',
  'launch/patient': 'Know which patient record it is working with',
  launch: 'Work with the record that was open in Ward when the app was started',
  offline_access: 'Keep its access when you are not using the app, until you revoke it in Ward (each use extends it by up to 3 months)',
  online_access: 'Keep its access only while you are signed in',
};

const TYPE_WORDS: Readonly<Record<string, string>> = {
  '*': 'all of the health record',
  Patient: 'demographics (name, birth date, contact details)',
  Observation: 'observations (test results, vital signs, social history)',
  Condition: 'conditions and problems',
  MedicationRequest: 'medication prescriptions',
  AllergyIntolerance: 'allergies and intolerances',
  Immunization: 'immunizations',
  Procedure: 'procedures',
  Encounter: 'visits and admissions',
  DiagnosticReport: 'diagnostic reports',
  DocumentReference: 'documents and clinical notes',
  CarePlan: 'care plans',
  CareTeam: 'care team members',
  Coverage: 'insurance coverage',
};

const VERBS: readonly [string, string][] = [
  ['r', 'read'],
  ['s', 'search'],
  ['c', 'add to'],
  ['u', 'change'],
  ['d', 'delete from'],
];

/**
 * The requested scopes in plain words, for the consent page (issue 5 item 5: the consent screen
 * shows a patient which data the app will get). Pure. A scope Ward cannot parse is shown as it
 * was written, so nothing requested is hidden from the user.
 */
export function scopeLines(scope: string): ScopeLine[] {
  return scope
    .split(/\s+/)
    .filter(Boolean)
    .map((s) => ({ scope: s, words: wordsFor(s), optional: s.includes('/') && !s.startsWith('launch') }));
}

function wordsFor(scope: string): string {
  const named = NAMED[scope];
  if (named) return named;
  let parsed: ResourceScope | undefined;
  try {
    parsed = parseScopes(scope).resourceScopes[0];
  } catch (e) {
    if (!(e instanceof ScopeSyntaxError)) throw e;
  }
  if (!parsed) return `Use "${scope}"`;
  const verbs = VERBS.filter(([p]) => parsed.permissions.has(p as never)).map(([, w]) => w);
  const whose = parsed.context === 'patient' ? 'your' : parsed.context === 'user' ? 'the records you can see:' : "every patient's";
  const what = TYPE_WORDS[parsed.resourceType] ?? parsed.resourceType;
  const only = parsed.restriction
    ? `, only where ${[...parsed.restriction].map(([name, values]) => `${name} is ${values.map((v) => v.split('|').at(-1)).join(' or ')}`).join(' and ')}`
    : '';
  return `${capitalize(joinWords(verbs))} ${whose} ${what}${only}`;
}

function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
