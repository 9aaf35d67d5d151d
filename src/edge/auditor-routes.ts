import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { AuditorInteractions, AuditorRequest, FhirResponse, StreamResponse } from '../services/index.js';
import { checkAcceptable, FHIR_JSON } from './fhir-routes.js';
import { type RouteAction, route } from './routes.js';

type Handler = (auditor: AuditorInteractions, req: AuditorRequest) => Promise<FhirResponse>;

/**
 * The auditor API (issue 7). Under the FHIR base, AuditEvent is the audit log, read-only: these
 * static routes take precedence over the generic `/fhir/:type` ones, so no AuditEvent can be
 * created, changed or deleted through them (and the vault refuses it too). Reports and the
 * export live under /admin/audit. Each route names the action the vault decides on.
 */
export function registerAuditorRoutes(app: FastifyInstance, auditor: AuditorInteractions): void {
  const fhir = (method: HTTPMethods, url: string, action: RouteAction, handler: Handler) =>
    route(app, {
      method,
      url: `/fhir/AuditEvent${url}`,
      action,
      handler: async (request, reply) => {
        checkAcceptable(request);
        return send(reply, await handler(auditor, auditorRequest(request)), FHIR_JSON);
      },
    });
  const refuse = (method: HTTPMethods, url: string, action: RouteAction) =>
    route(app, {
      method,
      url: `/fhir/AuditEvent${url}`,
      action,
      handler: async (request, reply) => {
        reply.header('allow', 'GET');
        return auditor.refuse(auditorRequest(request));
      },
    });

  fhir('GET', '', 'search', (a, req) => a.search(req));
  fhir('GET', '/:id', 'read', (a, req) => a.read(req));
  refuse('POST', '', 'create');
  refuse('PUT', '', 'update');
  refuse('DELETE', '', 'delete');
  refuse('PUT', '/:id', 'update');
  refuse('PATCH', '/:id', 'patch');
  refuse('DELETE', '/:id', 'delete');
  refuse('GET', '/_history', 'history-type');
  refuse('GET', '/:id/_history', 'history-instance');
  refuse('GET', '/:id/_history/:vid', 'vread');

  const admin = (method: HTTPMethods, url: string, action: RouteAction, handler: Handler) =>
    route(app, {
      method,
      url: `/admin/audit${url}`,
      action,
      handler: async (request, reply) => send(reply, await handler(auditor, auditorRequest(request)), 'application/json; charset=utf-8'),
    });
  route(app, {
    method: 'GET',
    url: '/admin/audit/export',
    action: 'search',
    handler: async (request, reply) => stream(reply, await auditor.exportLog(auditorRequest(request))),
  });
  admin('GET', '/disclosures', 'search', (a, req) => a.disclosures(req));
  admin('POST', '/disclosures', 'create', (a, req) => a.recordDisclosure(req));
  admin('GET', '/part2-disclosures', 'search', (a, req) => a.part2.accounting(req));
  admin('GET', '/access-report', 'search', (a, req) => a.accessReport(req));
  admin('GET', '/failures', 'search', (a, req) => a.failures(req));
  admin('GET', '/status', 'search', (a, req) => a.status(req));
  admin('GET', '/reviews', 'search', (a, req) => a.reviews(req));
  admin('POST', '/reviews', 'create', (a, req) => a.recordReview(req));
  // There is no off switch (170.315(d)(2)(ii)–(iii)): every write to the audit status or to a
  // configuration route is refused — 403 for a role that may not touch the log, 405 for one that
  // may — and audited with who and when.
  for (const url of ['/status', '/config', '/configuration', '/settings', '/enabled'])
    for (const method of ['PUT', 'POST', 'PATCH', 'DELETE'] as const)
      route(app, {
        method,
        url: `/admin/audit${url}`,
        action: 'update',
        handler: async (request, reply) => {
          reply.header('allow', url === '/status' ? 'GET' : '');
          return auditor.refuseConfigChange(auditorRequest(request));
        },
      });
  const json = (method: HTTPMethods, url: string, action: RouteAction, handler: (req: AuditorRequest) => Promise<FhirResponse>) =>
    route(app, {
      method,
      url,
      action,
      handler: async (request, reply) => send(reply, await handler(auditorRequest(request)), 'application/json; charset=utf-8'),
    });
  json('POST', '/admin/break-glass', 'create', (req) => auditor.breakGlass.request(req));
  json('GET', '/admin/break-glass/reviews', 'search', (req) => auditor.breakGlass.reviews(req));
  json('POST', '/admin/break-glass/reviews/:id', 'update', (req) => auditor.breakGlass.review(req));
  route(app, {
    method: 'GET',
    url: '/admin/policy/explain',
    action: 'read',
    handler: async (request, reply) => send(reply, await auditor.explainPolicy(auditorRequest(request)), 'application/json; charset=utf-8'),
  });
}

function auditorRequest(request: FastifyRequest): AuditorRequest {
  const principal = request.principal;
  const ctx = request.wardCtx;
  if (!principal || !ctx) throw new WardError('WARD_UNAUTHENTICATED');
  const id = (request.params as { id?: string } | undefined)?.id;
  return {
    principal,
    ctx,
    ...(id !== undefined ? { id } : {}),
    query: new URLSearchParams(request.url.split('?')[1] ?? ''),
    ...(request.body !== undefined ? { body: request.body } : {}),
  };
}

function send(reply: FastifyReply, response: FhirResponse, contentType: string): FastifyReply {
  return reply
    .code(response.status)
    .headers(response.headers)
    .type(response.headers['content-type'] ?? contentType)
    .send(response.body);
}

/** Sends a body as it is produced; the client's pace drives the reads (no export is held in memory). */
function stream(reply: FastifyReply, response: StreamResponse): FastifyReply {
  return reply.code(response.status).headers(response.headers).send(Readable.from(response.stream));
}
