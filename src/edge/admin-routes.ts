import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { AdminApi } from '../identity/index.js';
import type { Principal } from '../policy/index.js';
import type { RequestContext } from '../services/index.js';
import { type RouteAction, route } from './routes.js';

/** An account or client registration is small; refuse more before it is parsed. */
const ADMIN_BODY_LIMIT_BYTES = 64 * 1024;

interface AdminCall {
  readonly principal: Principal;
  readonly ctx: RequestContext;
  readonly params: Record<string, string>;
  readonly body: unknown;
}

/**
 * The admin API for accounts and client apps (issue 5): `ward user …` and `ward client …` over
 * HTTP. Identity decides who may call it (a system administrator, alone in that role, from a web
 * session with a fresh step-up) and audits every outcome; answers are never cached, since the
 * creation of an account carries its single-use enrollment code.
 */
export function registerAdminRoutes(app: FastifyInstance, admin: AdminApi): void {
  const bind = (method: HTTPMethods, url: string, action: RouteAction, status: number, handler: (call: AdminCall) => Promise<unknown>) =>
    route(app, {
      method,
      url,
      action,
      bodyLimit: ADMIN_BODY_LIMIT_BYTES,
      handler: async (request, reply) => send(reply, status, await handler(callOf(request))),
    });
  bind('GET', '/admin/users', 'search', 200, (c) => admin.listUsers(c.principal, c.ctx));
  bind('POST', '/admin/users', 'create', 201, (c) => admin.createUser(c.principal, c.ctx, c.body));
  bind('POST', '/admin/users/:id/deactivate', 'update', 200, (c) => admin.changeAccount(c.principal, c.ctx, id(c), 'user-deactivate'));
  bind('POST', '/admin/users/:id/reactivate', 'update', 200, (c) => admin.changeAccount(c.principal, c.ctx, id(c), 'user-reactivate'));
  bind('POST', '/admin/users/:id/mark-compromised', 'update', 200, (c) =>
    admin.changeAccount(c.principal, c.ctx, id(c), 'password-compromised'),
  );
  bind('POST', '/admin/users/:id/roles', 'update', 200, (c) =>
    admin.changeRole(c.principal, c.ctx, id(c), 'role-grant', (c.body as { role?: unknown } | undefined)?.role),
  );
  bind('DELETE', '/admin/users/:id/roles/:role', 'delete', 200, (c) =>
    admin.changeRole(c.principal, c.ctx, id(c), 'role-revoke', c.params.role),
  );
  bind('GET', '/admin/clients', 'search', 200, (c) => admin.listClients(c.principal, c.ctx));
  bind('POST', '/admin/clients', 'create', 201, (c) => admin.createClient(c.principal, c.ctx, c.body));
  bind('POST', '/admin/clients/:id/approve', 'update', 200, (c) => admin.approveClient(c.principal, c.ctx, id(c)));
  bind('POST', '/admin/clients/:id/suspend', 'update', 200, (c) => admin.suspendClient(c.principal, c.ctx, id(c)));
}

const id = (c: AdminCall): string => c.params.id ?? '';

function callOf(request: FastifyRequest): AdminCall {
  const principal = request.principal;
  const ctx = request.wardCtx;
  if (!principal || !ctx) throw new WardError('WARD_UNAUTHENTICATED');
  // No query parameters are defined: one is refused rather than ignored.
  if (Object.keys(request.query ?? {}).length > 0) throw new WardError('WARD_UNKNOWN_PARAMETER');
  return { principal, ctx, params: (request.params ?? {}) as Record<string, string>, body: request.body };
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  reply.header('cache-control', 'no-store');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
