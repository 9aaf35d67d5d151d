import type { FhirResource } from '../fhir/index.js';
import { ACCESS_POLICY, type PolicyFacts, type Principal, type RelationshipFact } from '../policy/index.js';
import {
  type BatchFactQuery,
  type FactRows,
  policyFactRows,
  type Queryable,
  readCurrent,
  type SearchCondition,
  type SearchOrder,
  type StoredVersion,
  searchResources,
  searchResourcesWithFacts,
} from '../store/index.js';

/** An Encounter finished this long ago still gives its participants access (ADR 0009). */
export const ENCOUNTER_WINDOW_MS = 72 * 3600 * 1000;

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
 * Loads what the policy needs to know about a principal and some patients, as of `now`, in one
 * statement for all the patients at once (a search page is one batch, never one row):
 * relationships (CareTeam, Encounter, unit), the patients' privacy Consents, break-glass grants,
 * and the RelatedPerson link of a proxy. A fact the principal's kind never needs is left absent
 * (ADR 0009: absent is "not applied", which for these kinds is what the rules say anyway).
 * Loading reads rows the caller may not see; nothing loaded here leaves the vault.
 */
export async function loadPolicyFacts(
  q: Queryable,
  open: OpenRow,
  principal: Principal,
  patients: Iterable<string>,
  now: Date,
  /** Current rows already loaded (a search's batch): a Patient among them is not loaded again for its unit. */
  known: readonly StoredVersion[] = [],
): Promise<PolicyFacts> {
  const ids = [...new Set(patients)];
  const query = factQueryOf(principal, now);
  if (!query) return { now };
  const wanted = new Set(query.units ? ids : []);
  for (const row of known) if (row.resourceType === 'Patient' && !row.deleted) wanted.delete(row.id);
  const [rows, proxyFor] = await Promise.all([
    policyFactRows(q, { ...query, patients: ids, units: [...wanted] }),
    proxyLinks(q, open, principal, now),
  ]);
  return factsOf(open, principal, query, ids, rows, known, proxyFor);
}

/**
 * A search's batch — current resources of a type matching the conditions, a page of them — and
 * the policy facts of its patients as loadPolicyFacts gives them, in one round trip.
 */
export async function searchWithPolicyFacts(
  q: Queryable,
  open: OpenRow,
  principal: Principal,
  now: Date,
  search: { type: string; conditions: readonly SearchCondition[]; order: readonly SearchOrder[]; page: { limit: number; offset: number } },
): Promise<{ rows: StoredVersion[]; facts: PolicyFacts }> {
  const query = factQueryOf(principal, now);
  if (!query) return { rows: await searchResources(q, search.type, search.conditions, search.order, search.page), facts: { now } };
  const [found, proxyFor] = await Promise.all([
    searchResourcesWithFacts(q, search.type, search.conditions, search.order, search.page, query),
    proxyLinks(q, open, principal, now),
  ]);
  const ids = [...new Set(found.rows.flatMap(patientsOfRow))];
  return { rows: found.rows, facts: factsOf(open, principal, query, ids, found.facts, found.rows, proxyFor) };
}

/** What to load for a principal's facts (null: its kind needs none). */
function factQueryOf(principal: Principal, now: Date): BatchFactQuery | null {
  if (principal.kind === 'patient' || principal.kind === 'operator') return null;
  const clinical = principal.kind === 'user' && principal.roles.some((r) => ACCESS_POLICY[r].clinical);
  return {
    relationships: clinical,
    actor: actorOf(principal.id),
    practitioner: /^Practitioner\/(.+)$/.exec(principal.id)?.[1] ?? null,
    units: clinical && (principal.organizations ?? []).length > 0,
    grantsOf: { principal: principal.id, now },
  };
}

/** The proxy link of a proxy; undefined for anyone else. */
function proxyLinks(q: Queryable, open: OpenRow, principal: Principal, now: Date): Promise<string[] | undefined> {
  const proxy = principal.kind === 'user' && principal.roles.includes('proxy');
  return proxy ? loadProxyLinks(q, open, principal, now) : Promise.resolve(undefined);
}

/** The facts the loaded rows give; `known` current rows stand for the unit Patients that were not loaded again. */
function factsOf(
  open: OpenRow,
  principal: Principal,
  query: BatchFactQuery,
  ids: readonly string[],
  loaded: FactRows,
  known: readonly StoredVersion[],
  proxyFor: string[] | undefined,
): PolicyFacts {
  const now = query.grantsOf.now;
  const clinical = query.relationships;
  const memberOf = principal.organizations ?? [];
  const wanted = new Set(query.units ? ids : []);
  const knownPatients = known.filter((row) => row.resourceType === 'Patient' && !row.deleted && wanted.delete(row.id));
  const rows = knownPatients.length > 0 ? { ...loaded, units: [...knownPatients, ...loaded.units] } : loaded;
  return {
    now,
    consents: rows.consents.map(open),
    memberOf,
    ...(clinical ? { relationships: relationshipsOf(open, principal, rows, ids, memberOf, now) } : {}),
    ...(proxyFor ? { proxyFor } : {}),
    // The engine needs a non-blank reason; the reason code stands for it (the sealed justification never leaves the store).
    ...(clinical
      ? {
          breakGlass: rows.grants.map((g) => ({
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

/** The principal as a participant reference names it (`Practitioner/123`: type and id), or null. */
function actorOf(id: string): { type: string; id: string } | null {
  const [type, target] = id.split('/');
  return type !== undefined && target !== undefined ? { type, id: target } : null;
}

/**
 * The relationships the loaded rows give: the care teams and encounters the principal takes part
 * in now (as its Practitioner or as one of its active PractitionerRoles), and its units' patients.
 */
function relationshipsOf(
  open: OpenRow,
  principal: Principal,
  rows: FactRows,
  patients: readonly string[],
  memberOf: readonly string[],
  now: Date,
): RelationshipFact[] {
  const roles = rows.roles.flatMap((row) => {
    const role = open(row);
    return role.active !== false && periodHolds(role.period, now) ? [`PractitionerRole/${row.id}`] : [];
  });
  const actors = [principal.id, ...roles];
  const wanted = new Set(patients);
  const facts: RelationshipFact[] = [];
  for (const row of rows.careTeams) {
    const team = open(row);
    if (team.status !== 'active' || !periodHolds(team.period, now)) continue;
    const member = asArray(team.participant).some((p) => actors.includes(referenceOf(p.member) ?? '') && periodHolds(p.period, now));
    const patient = patientOf(team.subject);
    if (member && patient && wanted.has(patient)) facts.push({ patient, kind: 'care-team', source: `CareTeam/${row.id}` });
  }
  for (const row of rows.encounters) {
    const encounter = open(row);
    if (!encounterCounts(encounter, now)) continue;
    const member = asArray(encounter.participant).some((p) => actors.includes(referenceOf(p.individual) ?? ''));
    const patient = patientOf(encounter.subject);
    if (member && patient && wanted.has(patient)) facts.push({ patient, kind: 'encounter', source: `Encounter/${row.id}` });
  }
  // The batch's Patients are loaded by id only and their managingOrganization checked here: a
  // condition on the organization reference let PostgreSQL start from every patient of the unit.
  for (const row of rows.units) {
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
