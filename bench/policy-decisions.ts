/**
 * Policy decisions per second (issue 6): the pure `decide` over a mix of the cases the vault asks
 * every row — a physician on the patient's care team, a nurse refused a PSY-labelled note, a
 * patient in and out of their own compartment, a consent that denies the actor, and a
 * break-glass permit. No database: this is the cost the decision adds to every row a search
 * reads. Run on its own: `node --import tsx bench/policy-decisions.ts`.
 */
import { performance } from 'node:perf_hooks';
import type { FhirResource } from '../src/fhir/index.js';
import {
  decide,
  kindOfSubject,
  type PolicyAction,
  type PolicyFacts,
  type PolicyTarget,
  type Principal,
  parseScopes,
  type Role,
} from '../src/policy/index.js';

export interface PolicyDecisionFigures {
  readonly cases: number;
  readonly decisions: number;
  readonly decisionsPerSecond: number;
  /** Mean microseconds per decision. */
  readonly meanMicros: number;
}

const NOW = new Date('2026-11-30T10:00:00Z');
const V3 = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

function person(id: string, role: Role, scope: string, patient?: string): Principal {
  return { id, kind: kindOfSubject(id), roles: [role], scopes: parseScopes(scope), ...(patient ? { patient } : {}), purposeOfUse: 'TREAT' };
}

const denyConsent: FhirResource = {
  resourceType: 'Consent',
  id: 'deny-1',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: 'Patient/P' },
  provision: { type: 'permit', provision: [{ type: 'deny', actor: [{ reference: { reference: 'Practitioner/denied' } }] }] },
};

type Case = readonly [Principal, PolicyAction, PolicyTarget, PolicyFacts];

function cases(): Case[] {
  const observation = (patient: string, security: { system: string; code: string }[] = []): PolicyTarget => ({
    resourceType: 'Observation',
    id: `obs-${patient}`,
    patients: [patient],
    security,
  });
  const physician = person('Practitioner/doc', 'physician', 'user/*.cruds');
  const nurse = person('Practitioner/nurse', 'nurse', 'user/*.cruds');
  const denied = person('Practitioner/denied', 'physician', 'user/*.cruds');
  const patient = person('Patient/P', 'patient', 'patient/*.rs', 'P');
  const careTeam: PolicyFacts = { now: NOW, relationships: [{ patient: 'P', kind: 'care-team' }], consents: [] };
  return [
    [physician, 'search', observation('P'), careTeam],
    [physician, 'read', observation('Q'), careTeam],
    [nurse, 'search', observation('P', [{ system: V3, code: 'PSY' }]), { ...careTeam }],
    [patient, 'read', observation('P'), { now: NOW }],
    [patient, 'read', observation('Q'), { now: NOW }],
    [denied, 'search', observation('P'), { ...careTeam, consents: [denyConsent] }],
    [
      physician,
      'read',
      observation('Q'),
      {
        now: NOW,
        relationships: [],
        consents: [],
        breakGlass: [
          {
            id: 'bg',
            principal: 'Practitioner/doc',
            patient: 'Q',
            reason: 'unconscious in ED',
            start: new Date(NOW.getTime() - 60_000),
            end: new Date(NOW.getTime() + 3_600_000),
          },
        ],
      },
    ],
  ];
}

export function measurePolicyDecisions(decisions = 1_000_000): PolicyDecisionFigures {
  const all = cases();
  // Warm up the JIT on every path before timing.
  for (let i = 0; i < 50_000; i++) {
    const [p, a, t, f] = all[i % all.length] as Case;
    decide(p, a, t, f);
  }
  let permits = 0;
  const start = performance.now();
  for (let i = 0; i < decisions; i++) {
    const [p, a, t, f] = all[i % all.length] as Case;
    if (decide(p, a, t, f).effect === 'permit') permits++;
  }
  const ms = performance.now() - start;
  // Used, so the loop cannot be optimised away.
  if (permits === 0) throw new Error('no case was permitted: the benchmark cases are wrong');
  return { cases: all.length, decisions, decisionsPerSecond: decisions / (ms / 1000), meanMicros: (ms * 1000) / decisions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const f = measurePolicyDecisions();
  process.stdout.write(
    `policy decisions: ${f.decisions} over ${f.cases} cases, ${f.decisionsPerSecond.toFixed(0)} decisions/s, ${f.meanMicros.toFixed(2)} µs each\n`,
  );
}
