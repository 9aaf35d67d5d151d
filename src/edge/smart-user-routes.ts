import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { ConnectedApps, SmartLaunches } from '../identity/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../services/index.js';
import { route } from './routes.js';

/** A launch request is a client id and two FHIR ids. */
const LAUNCH_BODY_LIMIT_BYTES = 4 * 1024;

/**
 * What a signed-in user does with SMART apps through Ward itself: a workforce user opens an
 * app for a patient (EHR launch, `POST /auth/launch`), a patient lists and revokes their
 * connected apps (`GET /auth/apps`, `DELETE /auth/apps/:clientId`). Each needs a bearer token;
 * identity decides who may do what and audits every outcome.
 */
export function registerSmartUserRoutes(
  app: FastifyInstance,
  smart: { readonly launches: SmartLaunches; readonly connectedApps: ConnectedApps },
): void {
  route(app, {
    method: 'POST',
    url: '/auth/launch',
    action: 'create',
    bodyLimit: LAUNCH_BODY_LIMIT_BYTES,
    handler: async (request, reply) => {
      const { principal, ctx } = who(request);
      reply.header('cache-control', 'no-store');
      return reply.code(201).send(await smart.launches.issue(principal, ctx, request.body));
    },
  });
  route(app, {
    method: 'GET',
    url: '/auth/apps',
    action: 'read',
    handler: async (request) => {
      const { principal, ctx } = who(request);
      return { apps: await smart.connectedApps.list(principal, ctx) };
    },
  });
  route(app, {
    method: 'DELETE',
    url: '/auth/apps/:clientId',
    action: 'delete',
    handler: async (request) => {
      const { principal, ctx } = who(request);
      const clientId = String((request.params as { clientId?: unknown }).clientId ?? '');
      return smart.connectedApps.revoke(principal, ctx, clientId);
    },
  });
}

function who(request: FastifyRequest): { principal: Principal; ctx: RequestContext } {
  if (!request.principal || !request.wardCtx) throw new WardError('WARD_INTERNAL');
  return { principal: request.principal, ctx: request.wardCtx };
}
