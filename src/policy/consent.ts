import type { FhirResource } from '../fhir/index.js';
import type { AccessAction } from './access-policy.js';
import { isNotesOnlyConsent, NOTES_CODE } from './part2.js';
import {
  ACT_CODE_SYSTEM,
  CONFIDENTIALITY_SYSTEM,
  isSensitivityCode,
  type Labels,
  type SensitivityCode,
  sensitivityClass,
} from './security-labels.js';

const CONSENT_SCOPE = 'http://terminology.hl7.org/CodeSystem/consentscope';
const CONSENT_ACTION = 'http://terminology.hl7.org/CodeSystem/consentaction';
const RESOURCE_TYPES = 'http://hl7.org/fhir/resource-types';
const DAY_MS = 86_400_000;

/** What is being asked, in the terms a privacy Consent speaks. */
export interface ConsentRequest {
  readonly patient: string;
  /** The principal's reference (`Practitioner/…`, `RelatedPerson/…`). */
  readonly actor: string;
  readonly organizations: readonly string[];
  readonly action: AccessAction;
  readonly resourceType?: string;
  /** `Type/id` of the resource, when an instance. */
  readonly resource?: string;
  readonly labels: Labels;
  readonly purposeOfUse: string;
  readonly now: Date;
}

export interface ConsentVerdict {
  readonly effect: 'permit' | 'deny' | 'none';
  /** Rule ids: `consent/<id>#<provision path>: permit|deny`. */
  readonly reasons: readonly string[];
  /** A permit that names this actor explicitly (what a proxy needs). */
  readonly namesActor: boolean;
  /** Sensitivity classes a permit naming this actor lists in its securityLabel (what Part 2 needs). */
  readonly unlocks: readonly SensitivityCode[];
  /** Which Consent unlocked which class, and the organization it names when it named this actor through one (§2.24). */
  readonly unlockedBy: readonly ConsentUnlock[];
  /** Consents for notes alone whose permit names this actor and PSYTHPN (§2.31(b), 164.508(b)(3)(ii)). */
  readonly notesConsents: readonly string[];
}

export interface ConsentUnlock {
  readonly consent: string;
  readonly label: SensitivityCode;
  /** The organization (an intermediary's general designation) the actor was named through. */
  readonly designation?: string;
}

interface Outcome {
  readonly effect: 'permit' | 'deny';
  readonly path: string;
  readonly namesActor: boolean;
  readonly labels: readonly SensitivityCode[];
  readonly designation?: string;
}

/**
 * Evaluates the patient's privacy Consents (FHIR R4) for one request. A Consent counts when it is
 * active, of scope patient-privacy, for this patient, and its root period holds now. Within one
 * Consent a provision applies when every criterion it states holds; a nested provision that
 * applies overrides its parent (an exception), and among siblings deny wins. Across Consents deny
 * wins over permit. Criteria Ward does not evaluate (code, dataPeriod, class outside
 * resource-types) never narrow a deny (it applies more widely) and never satisfy a permit.
 */
export function evaluateConsents(consents: readonly FhirResource[], request: ConsentRequest): ConsentVerdict {
  const outcomes: { id: string; outcome: Outcome; notesOnly: boolean }[] = [];
  for (const consent of consents) {
    if (!inForce(consent, request)) continue;
    const outcome = evaluateProvision(consent.provision, request, 'provision');
    if (outcome) outcomes.push({ id: String(consent.id ?? '?'), outcome, notesOnly: isNotesOnlyConsent(consent) });
  }
  const reasons = outcomes.map(({ id, outcome }) => `consent/${id}#${outcome.path}: ${outcome.effect}`);
  const denies = outcomes.filter((o) => o.outcome.effect === 'deny');
  if (denies.length > 0) {
    return {
      effect: 'deny',
      reasons: denies.map(({ id, outcome }) => `consent/${id}#${outcome.path}: deny`),
      namesActor: false,
      unlocks: [],
      unlockedBy: [],
      notesConsents: [],
    };
  }
  if (outcomes.length === 0) return { effect: 'none', reasons: [], namesActor: false, unlocks: [], unlockedBy: [], notesConsents: [] };
  const named = outcomes.filter((o) => o.outcome.namesActor);
  return {
    effect: 'permit',
    reasons,
    namesActor: named.length > 0,
    unlocks: [...new Set(named.flatMap((o) => o.outcome.labels))].sort(),
    unlockedBy: named.flatMap(({ id, outcome }) =>
      outcome.labels.map((label) => ({ consent: id, label, ...(outcome.designation ? { designation: outcome.designation } : {}) })),
    ),
    notesConsents: named.filter((o) => o.notesOnly && o.outcome.labels.includes(NOTES_CODE)).map((o) => o.id),
  };
}

function inForce(consent: FhirResource, request: ConsentRequest): boolean {
  if (consent.resourceType !== 'Consent' || consent.status !== 'active') return false;
  if (!codings(consent.scope).some((c) => c.system === CONSENT_SCOPE && c.code === 'patient-privacy')) return false;
  const patient = isObject(consent.patient) ? consent.patient.reference : undefined;
  if (patient !== `Patient/${request.patient}`) return false;
  const root = isObject(consent.provision) ? consent.provision : undefined;
  return root?.period === undefined || periodHolds(root.period, request.now) === true;
}

/**
 * A provision's outcome. Ancestors frame it twice: leniently (unevaluated criteria ignored) for a
 * deny, strictly (unevaluated criteria fail) for a permit, so neither reading widens a permit.
 */
function evaluateProvision(
  value: unknown,
  request: ConsentRequest,
  path: string,
  frame = { strict: true, lenient: true },
): Outcome | undefined {
  if (!isObject(value)) return undefined;
  const strictMatch = frame.strict ? matches(value, request, 'permit') : NO;
  const lenient = frame.lenient && matches(value, request, 'deny').applies;
  if (!strictMatch.applies && !lenient) return undefined;
  const children = Array.isArray(value.provision) ? value.provision : [];
  const childOutcomes = children
    .map((c, i) => evaluateProvision(c, request, `${path}.provision[${i}]`, { strict: strictMatch.applies, lenient }))
    .filter((o): o is Outcome => o !== undefined);
  // An exception that applies overrides its parent; among siblings deny wins.
  const denied = childOutcomes.find((o) => o.effect === 'deny');
  if (denied) return denied;
  if (childOutcomes[0]) return childOutcomes[0];
  if (value.type === 'deny' && lenient) return { effect: 'deny', path, namesActor: false, labels: [] };
  if (value.type === 'permit' && strictMatch.applies)
    return {
      effect: 'permit',
      path,
      namesActor: strictMatch.namesActor,
      labels: strictMatch.labels,
      ...(strictMatch.designation ? { designation: strictMatch.designation } : {}),
    };
  return undefined;
}

interface Match {
  readonly applies: boolean;
  readonly namesActor: boolean;
  readonly labels: readonly SensitivityCode[];
  readonly designation?: string;
}

const NO: Match = { applies: false, namesActor: false, labels: [] };

function matches(p: Record<string, unknown>, r: ConsentRequest, type: 'permit' | 'deny'): Match {
  // An unevaluated criterion: ignored by a deny, fatal to a permit.
  const unevaluated = (): boolean => type === 'permit';

  if (p.period !== undefined) {
    const holds = periodHolds(p.period, r.now);
    if (holds === false || (holds === undefined && type === 'permit')) return NO;
  }
  let namesActor = false;
  let designation: string | undefined;
  if (Array.isArray(p.actor) && p.actor.length > 0) {
    const refs = p.actor.flatMap((a) =>
      isObject(a) && isObject(a.reference) && typeof a.reference.reference === 'string' ? [a.reference.reference] : [],
    );
    if (!refs.some((ref) => ref === r.actor || r.organizations.includes(ref))) return NO;
    namesActor = true;
    // Named through an organization, not in person: the organization is a general designation (§2.24 intermediaries).
    if (!refs.includes(r.actor)) designation = refs.find((ref) => r.organizations.includes(ref));
  }
  if (Array.isArray(p.action) && p.action.length > 0) {
    const codes = p.action
      .flatMap((a) => codings(a))
      .filter((c) => c.system === CONSENT_ACTION)
      .map((c) => String(c.code));
    if (codes.length === 0 ? unevaluated() : !codes.some((c) => actionCodes(r.action).includes(c))) return NO;
  }
  let labels: SensitivityCode[] = [];
  if (Array.isArray(p.securityLabel) && p.securityLabel.length > 0) {
    const wanted = p.securityLabel.filter(isObject);
    const known = wanted.filter(
      (l) =>
        l.system === CONFIDENTIALITY_SYSTEM || (l.system === ACT_CODE_SYSTEM && typeof l.code === 'string' && isSensitivityCode(l.code)),
    );
    if (known.length === 0) {
      if (unevaluated()) return NO;
    } else {
      const resourceClasses = r.labels.sensitivity.map(sensitivityClass);
      const hit = known.filter((l) =>
        l.system === CONFIDENTIALITY_SYSTEM
          ? l.code === r.labels.confidentiality
          : resourceClasses.includes(sensitivityClass(l.code as SensitivityCode)),
      );
      if (hit.length === 0) return NO;
      labels = hit.flatMap((l) => (l.system === ACT_CODE_SYSTEM ? [sensitivityClass(l.code as SensitivityCode)] : []));
    }
  }
  if (Array.isArray(p.purpose) && p.purpose.length > 0) {
    if (!p.purpose.some((c) => isObject(c) && c.code === r.purposeOfUse)) return NO;
  }
  if (Array.isArray(p.class) && p.class.length > 0) {
    const types = p.class.filter((c) => isObject(c) && c.system === RESOURCE_TYPES).map((c) => (c as { code?: unknown }).code);
    if (types.length === 0 ? unevaluated() : !types.includes(r.resourceType)) return NO;
  }
  if (Array.isArray(p.data) && p.data.length > 0) {
    const refs = p.data.flatMap((d) =>
      isObject(d) && isObject(d.reference) && typeof d.reference.reference === 'string' ? [d.reference.reference] : [],
    );
    if (refs.length === 0 ? unevaluated() : r.resource === undefined || !refs.includes(r.resource)) return NO;
  }
  if ((p.code !== undefined || p.dataPeriod !== undefined) && unevaluated()) return NO;
  return { applies: true, namesActor, labels, ...(designation ? { designation } : {}) };
}

/** The consent actions a request performs: reading is access (and use); export discloses; writing collects or corrects. */
function actionCodes(action: AccessAction): readonly string[] {
  switch (action) {
    case 'read':
    case 'search':
      return ['access', 'use'];
    case 'export':
      return ['access', 'use', 'disclose'];
    case 'create':
      return ['collect'];
    case 'update':
    case 'delete':
    case 'purge':
      return ['correct'];
  }
}

/** true / false, or undefined when the period cannot be read. */
function periodHolds(period: unknown, now: Date): boolean | undefined {
  if (!isObject(period)) return undefined;
  const t = now.getTime();
  const start = period.start === undefined ? Number.NEGATIVE_INFINITY : Date.parse(String(period.start));
  // A date without a time ends with its day.
  const endText = period.end === undefined ? undefined : String(period.end);
  const end =
    endText === undefined ? Number.POSITIVE_INFINITY : Date.parse(endText) + (/^\d{4}-\d{2}-\d{2}$/.test(endText) ? DAY_MS - 1 : 0);
  if (Number.isNaN(start) || Number.isNaN(end)) return undefined;
  return start <= t && t <= end;
}

function codings(concept: unknown): { system?: unknown; code?: unknown }[] {
  if (!isObject(concept)) return [];
  return Array.isArray(concept.coding) ? concept.coding.filter(isObject) : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
