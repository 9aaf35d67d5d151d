import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { FhirResponse, OrganizationPolicyInteractions, OrganizationPolicyRequest } from '../services/index.js';
import { type RouteAction, route } from './routes.js';

/** An override document is small; refuse more before it is parsed. */
const POLICY_BODY_LIMIT_BYTES = 64 * 1024;

/** The organization policy API (ADR 0015). Each route names the action its audit entry records. */
export function registerOrganizationPolicyRoutes(app: FastifyInstance, policy: OrganizationPolicyInteractions): void {
  const bind = (
    method: HTTPMethods,
    url: string,
    action: RouteAction,
    handler: (req: OrganizationPolicyRequest) => Promise<FhirResponse>,
  ) =>
    route(app, {
      method,
      url: `/admin/organizations/:id/policy${url}`,
      action,
      bodyLimit: POLICY_BODY_LIMIT_BYTES,
      handler: async (request, reply) => send(reply, await handler(requestOf(request))),
    });
  bind('GET', '', 'read', (req) => policy.current(req));
  bind('GET', '/_history', 'history-instance', (req) => policy.history(req));
  bind('PUT', '', 'update', (req) => policy.change(req));
}

function requestOf(request: FastifyRequest): OrganizationPolicyRequest {
  const principal = request.principal;
  const ctx = request.wardCtx;
  if (!principal || !ctx) throw new WardError('WARD_UNAUTHENTICATED');
  const ifMatch = request.headers['if-match'];
  return {
    principal,
    ctx,
    id: (request.params as { id: string }).id,
    query: new URLSearchParams(request.url.split('?')[1] ?? ''),
    ...(request.body !== undefined ? { body: request.body } : {}),
    ...(typeof ifMatch === 'string' ? { ifMatch } : {}),
  };
}

function send(reply: FastifyReply, response: FhirResponse): FastifyReply {
  reply.header('cache-control', 'no-store');
  return reply.code(response.status).headers(response.headers).send(response.body);
}
