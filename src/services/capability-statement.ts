import { CRITERIA_PARAMETERS, RESOURCE_TYPES, searchParameter } from '../fhir/index.js';

/**
 * The CapabilityStatement states exactly what this build implements (and nothing it does not):
 * every R4 resource type with the full set of instance and type interactions, conditional
 * create/update/delete, JSON Patch, and the search parameters conditional interactions use.
 */
export function capabilityStatement(options: { baseUrl: string; version: string; now: Date }): Record<string, unknown> {
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
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'OAuth' }],
              text: 'Bearer access tokens (JWT, ES256); scopes in SMART v2 syntax',
            },
          ],
          description: 'Every interaction except this statement requires a bearer token; every request is audited.',
        },
        resource: RESOURCE_TYPES.map((type) => ({
          type,
          profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
          interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'].map(
            (code) => ({ code }),
          ),
          versioning: 'versioned-update',
          readHistory: true,
          updateCreate: true,
          conditionalCreate: true,
          conditionalRead: 'not-supported',
          conditionalUpdate: true,
          conditionalDelete: 'single',
          referencePolicy: ['literal'],
          searchParam: CRITERIA_PARAMETERS.flatMap((name) => {
            const definition = searchParameter(type, name);
            return definition && definition.type === 'token' ? [{ name, definition: definition.url, type: definition.type }] : [];
          }),
        })),
        interaction: [{ code: 'history-system' }],
      },
    ],
  };
}
