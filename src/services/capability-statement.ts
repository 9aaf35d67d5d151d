import { compositePlan, indexPlan, RESOURCE_TYPES, searchParameter, searchParametersOf } from '../fhir/index.js';

/**
 * The CapabilityStatement states exactly what this build implements (and nothing it does not):
 * every R4 resource type with the full set of instance and type interactions, conditional
 * create/update/delete, JSON Patch, and every search parameter Ward indexes (ADR 0007) —
 * except AuditEvent, which is the audit log's read-only view: read and search only.
 */
export function capabilityStatement(options: { baseUrl: string; version: string; now: Date }): Record<string, unknown> {
  // The authorization server sits beside the FHIR base (`<server>/oauth`, ADR 0013).
  const oauth = `${options.baseUrl.replace(/\/fhir\/?$/, '')}/oauth`;
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: options.now.toISOString(),
    publisher: 'Ward',
    kind: 'instance',
    software: { name: 'Ward', version: options.version },
    implementation: { description: 'Ward FHIR R4 server', url: options.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          // SMART App Launch: where apps authorize (the discovery document says the rest).
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: `${oauth}/auth` },
                { url: 'token', valueUri: `${oauth}/token` },
                { url: 'introspect', valueUri: `${oauth}/introspect` },
                { url: 'revoke', valueUri: `${oauth}/revoke` },
              ],
            },
          ],
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
              text: 'SMART App Launch 2 and Backend Services; bearer access tokens; scopes in SMART v1 and v2 syntax',
            },
          ],
          description: 'Every interaction except this statement requires a bearer token; every request is audited.',
        },
        resource: RESOURCE_TYPES.map((type) =>
          type === 'AuditEvent'
            ? auditEventCapability()
            : {
                type,
                profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
                interaction: [
                  'read',
                  'vread',
                  'update',
                  'patch',
                  'delete',
                  'history-instance',
                  'history-type',
                  'create',
                  'search-type',
                ].map((code) => ({ code })),
                versioning: 'versioned-update',
                readHistory: true,
                updateCreate: true,
                conditionalCreate: true,
                conditionalRead: 'not-supported',
                conditionalUpdate: true,
                conditionalDelete: 'single',
                referencePolicy: ['literal'],
                searchInclude: ['*', ...referenceParamsOf(type).map((code) => `${type}:${code}`)],
                searchRevInclude: ['*'],
                searchParam: searchParamsOf(type),
                ...(type === 'Patient' ? { operation: [EVERYTHING_OPERATION] } : {}),
              },
        ),
        interaction: [
          { code: 'history-system' },
          {
            code: 'transaction',
            documentation:
              'All or nothing in one database transaction; DELETE, POST, PUT/PATCH, GET order; urn:uuid and conditional references; each entry decided and audited.',
          },
          { code: 'batch', documentation: 'Each entry independent, with its own status or OperationOutcome.' },
        ],
        operation: [PURGE_OPERATION],
      },
    ],
  };
}

/** `Patient/{id}/$everything` (ADR 0017); the instance-level form only. */
const EVERYTHING_OPERATION = {
  name: 'everything',
  definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything',
  documentation:
    'GET or POST on Patient/[id]/$everything: the Patient, its compartment, and the resources in no patient compartment that those reference, each decided by policy like a search match; start/end (care dates), _since, _type, _count; paged by next links.',
};

/** `[type]/[id]/$purge` (ADR 0018): Ward's own operation, for the purge role only. */
const PURGE_OPERATION = {
  name: 'purge',
  definition: 'https://ward.health/fhir/OperationDefinition/purge',
  documentation:
    'POST on [type]/[id]/$purge: removes the resource with every version, its current pointer and its search index, audited in the same transaction. Only a token of the dedicated purge role is permitted; every other role gets 403.',
};

/** What each parameter type supports beyond plain values (ADR 0007, ADR 0011); chaining and `_has` go through reference parameters. */
const MODIFIERS: Partial<Record<string, string>> = {
  token:
    'Modifiers :not, :missing, :text (display text, starts-with), :of-type (identifiers: typeSystem|typeCode|value). :in, :not-in, :above, :below are not supported.',
  string:
    'Starts-with by default (case- and accent-insensitive), :exact, :missing. :contains is not supported: values are stored only as keyed hashes.',
  reference: 'Type/id, id or absolute URL; modifiers :[type], :identifier, :missing; chained (two levels) and target of _has.',
  uri: 'Modifiers :above, :below, :missing.',
  date: 'Prefixes eq, ne, lt, gt, le, ge, sa, eb, ap at any precision.',
  number: 'Prefixes eq, ne, lt, gt, le, ge, sa, eb, ap.',
  quantity: 'Prefixes eq, ne, lt, gt, le, ge, sa, eb, ap; value|system|code.',
  composite: 'Values joined by $, one per component, matched on the same element.',
};

/** _id and _lastUpdated (served from the resource table), every indexed parameter of the type, then its composites. */
function searchParamsOf(type: string): Record<string, string>[] {
  const fromColumns = ['_id', '_lastUpdated'].flatMap((name) => {
    const definition = searchParameter(type, name);
    return definition ? [{ name, definition: definition.url, type: definition.type }] : [];
  });
  const composites = searchParametersOf(type).filter((sp) => sp.type === 'composite' && compositePlan(type, sp.code));
  return [
    ...fromColumns,
    ...[...indexPlan(type), ...composites.map((sp) => ({ code: sp.code, url: sp.url, type: sp.type }))].map((p) => ({
      name: p.code,
      definition: p.url,
      type: p.type,
      ...(MODIFIERS[p.type] ? { documentation: MODIFIERS[p.type] as string } : {}),
    })),
  ];
}

function referenceParamsOf(type: string): string[] {
  return indexPlan(type)
    .filter((p) => p.type === 'reference')
    .map((p) => p.code);
}

const AUDIT_EVENT_PARAMETERS: readonly [name: string, documentation: string][] = [
  ['patient', 'A Patient id or Patient/id; also matches search and history entries that returned the patient.'],
  ['agent', 'The principal id exactly as recorded (Practitioner/123, system, operator:name, anonymous).'],
  ['date', 'The recorded time; prefixes eq, ge, gt, le, lt; repeat for a range.'],
  ['action', 'A Ward action (read, create, search, disclose, …) or an AuditEvent action code C, R, U, D, E.'],
  ['outcome', '0, 4, 8 or 12, or success, failure, error.'],
  ['entity', 'Type/id of the resource acted on, or returned by a search.'],
];

/** AuditEvent is served from the audit log: read and search, no history, no writes (170.315(d)(2)(iv)). */
function auditEventCapability(): Record<string, unknown> {
  return {
    type: 'AuditEvent',
    profile: 'http://hl7.org/fhir/StructureDefinition/AuditEvent',
    documentation: 'The audit log, read-only, for the privacy-officer and auditor roles; _sort by date, agent, patient, action, outcome.',
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    versioning: 'no-version',
    readHistory: false,
    updateCreate: false,
    conditionalCreate: false,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchParam: AUDIT_EVENT_PARAMETERS.flatMap(([name, documentation]) => {
      const definition = searchParameter('AuditEvent', name);
      return definition ? [{ name, definition: definition.url, type: definition.type, documentation }] : [];
    }),
  };
}
