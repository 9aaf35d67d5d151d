import type { FastifyInstance } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { ComplianceReport } from '../identity/index.js';
import { route } from './routes.js';

/**
 * `GET /admin/compliance/report`: the compliance report ((d)(13): where MFA is used), for a
 * system administrator or a privacy officer. Identity decides who may read it and audits every
 * outcome; the answer is never cached.
 */
export function registerComplianceRoutes(app: FastifyInstance, report: ComplianceReport): void {
  route(app, {
    method: 'GET',
    url: '/admin/compliance/report',
    action: 'read',
    handler: async (request, reply) => {
      if (!request.principal || !request.wardCtx) throw new WardError('WARD_UNAUTHENTICATED');
      if (Object.keys(request.query ?? {}).length > 0) throw new WardError('WARD_UNKNOWN_PARAMETER');
      reply.header('cache-control', 'no-store');
      return report.report(request.principal, request.wardCtx);
    },
  });
}
