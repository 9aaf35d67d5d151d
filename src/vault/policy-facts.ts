import type { FhirResource } from '../fhir/index.js';
import { ACCESS_POLICY, type PolicyFacts, type Principal, type RelationshipFact } from '../policy/index.js';
import { activeGrants, type Queryable, readCurrent, type SearchCondition, type StoredVersion, searchResources } from '../store/index.js';

/** An Encounter finished this long ago still gives its participants access (ADR 0009). */
export const ENCOUNTER_WINDOW_MS = 72 * 3600 * 1000;
/** Rows per round trip while loading facts; every page is read, so a long list is never cut short. */
const FACT_PAGE = 500;

/**
 * The resource types whose stored content loadPolicyFacts reads for this principal (its branches
 * below): a write of one of them can change the principal's next decision, so batched writes
 * (updateMany) never share one load of facts with them. Keep the two in step.
 */
export function policyFactTypesFor(principal: Principal): ReadonlySet<string> {
  if (principal.kind === 'patient' || principal.kind === 'operator') return NO_FACT_TYPES;
  if (principal.kind === 'user' && principal.roles.some((r) => ACCESS_POLICY[r].clinical)) return CLINICAL_FACT_TYPES;
  if (principal.kind === 'user' && principal.roles.includes('proxy')) return PROXY_FACT_TYPES;
  return CONSENT_FACT_TYPES;
}

const NO_FACT_TYPES: ReadonlySet<string> = new Set();
const CONSENT_FACT_TYPES: ReadonlySet<string> = new Set(['Consent']);
const PROXY_FACT_TYPES: ReadonlySet<string> = new Set(['Consent', 'RelatedPerson']);
const CLINICAL_FACT_TYPES: ReadonlySet<string> = new Set(['CareTeam', 'Encounter', 'Patient', 'Consent', 'RelatedPerson']);

/** Opens a stored row with the vault's own key ring (fact resources, like CareTeam and Consent, are PHI). */
export type OpenRow = (row: StoredVersion) => FhirResource;

/** The patients whose compartment holds a row (a Patient is in its own). */
export function patientsOfRow(row: StoredVersion): string[] {
  return row.resourceType === 'Patient' ? [...new Set([...row.patients, row.id])] : [...row.patients];
}

/**
 * Loads what the policy needs to know about a principal and some patients, as of `now`, with one
 * query per kind of fact for all the patients at once (a search page is one batch, never one row):
 * relationships (CareTeam, Encounter, unit), the patients' privacy Consents, and the RelatedPerson
 * link of a proxy. A fact the principal's kind never needs is left absent (ADR 0009: absent is
 * "not applied", which for these kinds is what the rules say anyway). Loading reads rows the
 * caller may not see; nothing loaded here leaves the vault.
 */
export async function loadPolicyFacts(
  q: Queryable,
  open: OpenRow,
  principal: Principal,
  patients: Iterable<string>,
  now: Date,
): Promise<PolicyFacts> {
  const ids = [...new Set(patients)];
  if (principal.kind === 'patient' || principal.kind === 'operator') return { now };
  const clinical = principal.kind === 'user' && principal.roles.some((r) => ACCESS_POLICY[r].clinical);
  const proxy = principal.kind === 'user' && principal.roles.includes('proxy');
  const memberOf = principal.organizations ?? [];
  const [relationships, consents, proxyFor, grants] = await Promise.all([
    clinical ? loadRelationships(q, open, principal, ids, memberOf, now) : undefined,
    loadConsents(q, open, ids),
    proxy ? loadProxyLinks(q, open, principal, now) : undefined,
    clinical ? activeGrants(q, principal.id, ids, now) : undefined,
  ]);
  return {
    now,
    consents,
    memberOf,
    ...(relationships ? { relationships } : {}),
    ...(proxyFor ? { proxyFor } : {}),
    // The engine needs a non-blank reason; the reason code stands for it (the sealed justification never leaves the store).
    ...(grants
      ? {
          breakGlass: grants.map((g) => ({
            id: g.id,
            principal: g.principal,
            patient: g.patient,
            reason: g.reasonCode,
            start: g.startsAt,
            end: g.endsAt,
          })),
        }
      : {}),
  };
}

async function allRows(q: Queryable, type: string, conditions: readonly SearchCondition[]): Promise<StoredVersion[]> {
  const out: StoredVersion[] = [];
  for (let offset = 0; ; offset += FACT_PAGE) {
    const rows = await searchResources(q, type, conditions, [], { limit: FACT_PAGE, offset });
    out.push(...rows);
    if (rows.length < FACT_PAGE) return out;
  }
}

const patientTargets = (ids: readonly string[]) => ids.map((targetId) => ({ targetType: 'Patient', targetId }));

const refTargets = (refs: readonly string[]) =>
  refs.map((r) => {
    const [targetType, targetId] = r.split('/') as [string, string];
    return { targetType, targetId };
  });

async function loadRelationships(
  q: Queryable,
  open: OpenRow,
  principal: Principal,
  patients: readonly string[],
  memberOf: readonly string[],
  now: Date,
): Promise<RelationshipFact[]> {
  if (patients.length === 0) return [];
  // The principal takes part in care as its Practitioner or as one of its active PractitionerRoles.
  const actors = [principal.id, ...(await practitionerRoles(q, open, principal, now))];
  const wanted = new Set(patients);
  const [careTeams, encounters, units] = await Promise.all([
    allRows(q, 'CareTeam', [
      { kind: 'reference', param: 'patient', targets: patientTargets(patients) },
      { kind: 'reference', param: 'participant', targets: refTargets(actors) },
    ]),
    allRows(q, 'Encounter', [
      { kind: 'reference', param: 'patient', targets: patientTargets(patients) },
      { kind: 'reference', param: 'participant', targets: refTargets(actors) },
    ]),
    // The patients by id only; the loop below checks managingOrganization on each. A condition on
    // the organization reference as well lets PostgreSQL start from every patient of the unit
    // (it misjudges that index as one row), which grew with the unit: 46 ms a search at 10,000.
    memberOf.length === 0 ? [] : allRows(q, 'Patient', [{ kind: 'id', ids: patients }]),
  ]);
  const facts: RelationshipFact[] = [];
  for (const row of careTeams) {
    const team = open(row);
    if (team.status !== 'active' || !periodHolds(team.period, now)) continue;
    const member = asArray(team.participant).some((p) => actors.includes(referenceOf(p.member) ?? '') && periodHolds(p.period, now));
    const patient = patientOf(team.subject);
    if (member && patient && wanted.has(patient)) facts.push({ patient, kind: 'care-team', source: `CareTeam/${row.id}` });
  }
  for (const row of encounters) {
    const encounter = open(row);
    if (!encounterCounts(encounter, now)) continue;
    const member = asArray(encounter.participant).some((p) => actors.includes(referenceOf(p.individual) ?? ''));
    const patient = patientOf(encounter.subject);
    if (member && patient && wanted.has(patient)) facts.push({ patient, kind: 'encounter', source: `Encounter/${row.id}` });
  }
  for (const row of units) {
    const org = referenceOf(open(row).managingOrganization);
    if (org && memberOf.includes(org)) facts.push({ patient: row.id, kind: 'unit', source: org });
  }
  return facts;
}

/** In progress, or finished in the last 72 hours (by its period's end). */
function encounterCounts(encounter: FhirResource, now: Date): boolean {
  if (encounter.status === 'in-progress') return true;
  if (encounter.status !== 'finished') return false;
  const end = isObject(encounter.period) && typeof encounter.period.end === 'string' ? Date.parse(encounter.period.end) : Number.NaN;
  return !Number.isNaN(end) && now.getTime() - end <= ENCOUNTER_WINDOW_MS;
}

async function practitionerRoles(q: Queryable, open: OpenRow, principal: Principal, now: Date): Promise<string[]> {
  const m = /^Practitioner\/(.+)$/.exec(principal.id);
  if (!m) return [];
  const rows = await allRows(q, 'PractitionerRole', [
    { kind: 'reference', param: 'practitioner', targets: [{ targetType: 'Practitioner', targetId: m[1] as string }] },
  ]);
  return rows.flatMap((row) => {
    const role = open(row);
    return role.active !== false && periodHolds(role.period, now) ? [`PractitionerRole/${row.id}`] : [];
  });
}

/** Every Consent of the patients; the policy keeps those in force (active, patient-privacy, period). */
async function loadConsents(q: Queryable, open: OpenRow, patients: readonly string[]): Promise<FhirResource[]> {
  if (patients.length === 0) return [];
  const rows = await allRows(q, 'Consent', [{ kind: 'reference', param: 'patient', targets: patientTargets(patients) }]);
  return rows.map(open);
}

/** A proxy (`RelatedPerson/<id>`) acts for the patient its own active RelatedPerson names. */
async function loadProxyLinks(q: Queryable, open: OpenRow, principal: Principal, now: Date): Promise<string[]> {
  const m = /^RelatedPerson\/([A-Za-z0-9\-.]{1,64})$/.exec(principal.id);
  if (!m) return [];
  const row = await readCurrent(q, 'RelatedPerson', m[1] as string);
  if (!row || row.deleted) return [];
  const person = open(row);
  if (person.active === false || !periodHolds(person.period, now)) return [];
  const patient = patientOf(person.patient);
  return patient ? [patient] : [];
}

function patientOf(reference: unknown): string | undefined {
  const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(referenceOf(reference) ?? '');
  return m?.[1];
}

function referenceOf(value: unknown): string | undefined {
  return isObject(value) && typeof value.reference === 'string' ? value.reference : undefined;
}

/** An absent period always holds; an unreadable one never does (fail closed). */
function periodHolds(period: unknown, now: Date): boolean {
  if (period === undefined) return true;
  if (!isObject(period)) return false;
  const t = now.getTime();
  const start = period.start === undefined ? Number.NEGATIVE_INFINITY : Date.parse(String(period.start));
  const endText = period.end === undefined ? undefined : String(period.end);
  // A date without a time lasts through its day.
  const end =
    endText === undefined ? Number.POSITIVE_INFINITY : Date.parse(endText) + (/^\d{4}-\d{2}-\d{2}$/.test(endText) ? 86_400_000 - 1 : 0);
  if (Number.isNaN(start) || Number.isNaN(end)) return false;
  return start <= t && t <= end;
}

function asArray(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A Patient being created belongs to the unit it names as its managing organization, so a
 * member of that unit may register it there. Only for a create: on an update the relationship
 * must already hold for the stored Patient, or naming one's own unit would take over any chart.
 */
export function withNewPatientUnit(facts: PolicyFacts, resource: FhirResource & { id: string }): PolicyFacts {
  if (resource.resourceType !== 'Patient' || facts.relationships === undefined) return facts;
  const org = referenceOf(resource.managingOrganization);
  if (!org || !(facts.memberOf ?? []).includes(org)) return facts;
  return { ...facts, relationships: [...facts.relationships, { patient: resource.id, kind: 'unit', source: org }] };
}
