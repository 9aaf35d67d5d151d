import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardError } from '../fhir/index.js';
import {
  type BundleInteractions,
  capabilityStatement,
  type FhirInteractions,
  type FhirRequest,
  type FhirResponse,
} from '../services/index.js';
import { PER_ENTRY, PUBLIC, type RouteAction, route } from './routes.js';

type Interaction = Exclude<keyof FhirInteractions, 'recordRequest'>;

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** The FHIR REST routes (R4 §3.1.0), each bound to its interaction and its policy action. */
export function registerFhirRoutes(
  app: FastifyInstance,
  options: { fhir: FhirInteractions; bundles: BundleInteractions; baseUrl: string; version: string; now: () => Date },
): void {
  const { fhir } = options;
  const bind = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, action: RouteAction, interaction: Interaction) =>
    route(app, { method, url: `/fhir${url}`, action, handler: (req, reply) => run(fhir, interaction, req, reply) });

  route(app, {
    method: 'GET',
    url: '/fhir/metadata',
    action: PUBLIC,
    handler: async (_req, reply) =>
      reply.type(FHIR_JSON).send(capabilityStatement({ baseUrl: `${options.baseUrl}/fhir`, version: options.version, now: options.now() })),
  });
  route(app, {
    method: 'POST',
    url: '/fhir',
    action: PER_ENTRY,
    handler: async (request, reply) => {
      checkAcceptable(request);
      const principal = request.principal;
      const ctx = request.wardCtx;
      if (!principal || !ctx) throw new WardError('WARD_UNAUTHENTICATED');
      const prefer = request.headers.prefer;
      const response = await options.bundles.process({
        principal,
        ctx,
        body: request.body,
        ...(typeof prefer === 'string' ? { prefer } : {}),
      });
      reply.code(response.status).headers(response.headers).type(FHIR_JSON).send(response.body);
    },
  });
  bind('GET', '/_history', 'history-system', 'history');
  bind('GET', '/:type', 'search', 'search');
  bind('POST', '/:type/_search', 'search', 'search');
  bind('POST', '/:type', 'create', 'create');
  bind('PUT', '/:type', 'update', 'conditionalUpdate');
  bind('DELETE', '/:type', 'delete', 'conditionalDelete');
  bind('GET', '/:type/_history', 'history-type', 'history');
  bind('GET', '/:type/:id', 'read', 'read');
  bind('PUT', '/:type/:id', 'update', 'update');
  bind('PATCH', '/:type/:id', 'patch', 'patch');
  bind('DELETE', '/:type/:id', 'delete', 'delete');
  bind('GET', '/:type/:id/_history', 'history-instance', 'history');
  bind('GET', '/:type/:id/_history/:vid', 'vread', 'vread');
  // Each resource the operation returns is decided as a search match would be (ADR 0017).
  bind('GET', '/:type/:id/$everything', 'search', 'everything');
  bind('POST', '/:type/:id/$everything', 'search', 'everything');
  // A FHIR operation of its own, not a DELETE flag: destroying history is a different action (ADR 0018).
  bind('POST', '/:type/:id/$purge', 'purge', 'purge');
  bind('GET', '/:type/:id/:compartmentType', 'search', 'search');
}

async function run(fhir: FhirInteractions, interaction: Interaction, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  checkAcceptable(request);
  if (request.method === 'PATCH' && !String(request.headers['content-type'] ?? '').startsWith('application/json-patch+json')) {
    throw new WardError('WARD_UNSUPPORTED_MEDIA_TYPE', { details: [{ diagnostics: 'PATCH takes application/json-patch+json' }] });
  }
  const params = request.params as { type?: string; id?: string; vid?: string; compartmentType?: string };
  const principal = request.principal;
  const ctx = request.wardCtx;
  if (!principal || !ctx) throw new WardError('WARD_UNAUTHENTICATED');
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const req: FhirRequest = {
    principal,
    ctx,
    ...(params.type !== undefined ? { resourceType: params.type } : {}),
    ...(params.id !== undefined ? { id: params.id } : {}),
    ...(params.vid !== undefined ? { versionId: params.vid } : {}),
    ...(params.compartmentType !== undefined ? { compartmentType: params.compartmentType } : {}),
    query: new URLSearchParams(request.url.split('?')[1] ?? ''),
    ...(request.body !== undefined ? { body: request.body } : {}),
    ...(header('if-match') !== undefined ? { ifMatch: header('if-match') as string } : {}),
    ...(header('if-none-exist') !== undefined ? { ifNoneExist: header('if-none-exist') as string } : {}),
    ...(header('prefer') !== undefined ? { prefer: header('prefer') as string } : {}),
  };
  const response: FhirResponse = await (fhir[interaction] as (r: FhirRequest) => Promise<FhirResponse>).call(fhir, req);
  reply.code(response.status).headers(response.headers);
  if (response.body === undefined) {
    reply.send();
  } else {
    reply.type(FHIR_JSON).send(response.body);
  }
}

/** Ward answers in JSON only; an explicit request for anything else is 406, not a surprise. */
export function checkAcceptable(request: FastifyRequest): void {
  const format = new URLSearchParams(request.url.split('?')[1] ?? '').get('_format');
  if (format !== null && !/json/.test(format)) throw new WardError('WARD_NOT_ACCEPTABLE');
  const accept = request.headers.accept;
  if (accept && !/json|\*\/\*|application\/\*/.test(accept)) throw new WardError('WARD_NOT_ACCEPTABLE');
}
