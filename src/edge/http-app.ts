import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { WardError } from '../fhir/index.js';
import type { AdminApi, BearerVerifier, Smart } from '../identity/index.js';
import type { Principal } from '../policy/index.js';
import type {
  AuditorInteractions,
  BundleInteractions,
  FhirInteractions,
  OrganizationPolicyInteractions,
  RequestContext,
} from '../services/index.js';
import { registerAdminRoutes } from './admin-routes.js';
import { registerAuditorRoutes } from './auditor-routes.js';
import { type AuthIdentity, registerAuthRoutes } from './auth-routes.js';
import { registerComplianceRoutes } from './compliance-routes.js';
import { outcomeOf, toWardError } from './error-mapping.js';
import { FHIR_JSON, registerFhirRoutes } from './fhir-routes.js';
import { registerOAuthInteractionRoutes } from './oauth-interaction-routes.js';
import { registerOAuthRoutes } from './oauth-routes.js';
import { registerOrganizationPolicyRoutes } from './organization-policy-routes.js';
import { PUBLIC, type RouteAction, requireActionOnEveryRoute, route } from './routes.js';
import { securityHeaders } from './security-headers.js';
import { readCsrfHeader, readSessionCookie } from './session-cookie.js';
import { registerSmartUserRoutes } from './smart-user-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    wardCtx: RequestContext | null;
  }
}

export interface HttpAppOptions {
  readonly fhir: FhirInteractions;
  readonly bundles: BundleInteractions;
  readonly auditor: AuditorInteractions;
  /** Organization policy overrides (`/admin/organizations/:id/policy`). */
  readonly organizationPolicy: OrganizationPolicyInteractions;
  /** The bearer check: Ward's JWTs and the authorization server's opaque tokens. */
  readonly tokens: BearerVerifier;
  /** The SMART authorization server (`/oauth/*`) and its discovery document. */
  readonly smart: Pick<Smart, 'server' | 'configuration' | 'launches' | 'connectedApps'>;
  /** Password login, enrollment, second factor and web sessions (`/auth/*`). */
  readonly identity: AuthIdentity;
  /** Accounts and client apps over HTTP (`/admin/users`, `/admin/clients`). */
  readonly admin: AdminApi;
  readonly baseUrl: string;
  readonly version: string;
  readonly now: () => Date;
  readonly bodyLimitBytes: number;
  readonly https?: { key: string; cert: string };
  /** The audit log's tree-head signing key (public half), so anyone can check a signed head. */
  readonly auditKey: { readonly keyId: string; readonly publicKeyPem: string };
  /** The clock check `/healthz` reports (170.210(g)). */
  readonly clock: () => { readonly synchronized: boolean; readonly offsetMs: number; readonly limitMs: number; readonly checkedAt: string };
  readonly logger: FastifyInstance['log'] | false;
}

export interface HttpApp {
  readonly app: FastifyInstance;
  /** Every route with its declared action (a test walks them without credentials). */
  readonly routes: readonly { method: string; url: string; action: RouteAction }[];
}

/** Builds the HTTP edge: TLS 1.3, security headers, bearer authentication, routes, error → OperationOutcome. */
export async function buildHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  // One instance type for HTTPS and loopback HTTP; Fastify's overloads would otherwise pick per option.
  const app = Fastify({
    ...(options.https
      ? {
          https: {
            key: options.https.key,
            cert: options.https.cert,
            // Invariant 6: TLS 1.3 only; a TLS 1.2 (or older) client handshake fails.
            minVersion: 'TLSv1.3' as const,
            maxVersion: 'TLSv1.3' as const,
          },
        }
      : {}),
    loggerInstance: options.logger || undefined,
    logger: options.logger ? undefined : false,
    // Request lines carry query strings, which may hold identifiers; the edge logs its own PHI-free line.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  const routes: { method: string; url: string; action: RouteAction }[] = [];
  requireActionOnEveryRoute(app, routes);
  app.decorateRequest('principal', null);
  app.decorateRequest('wardCtx', null);

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(['application/fhir+json', 'application/json-patch+json'], { parseAs: 'string' }, jsonParser);
  // POST _search carries its parameters as a form (R4 §3.1.1.3); the search parser reads the string.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (request) => {
    request.wardCtx = {
      requestId: request.id,
      listener: options.https ? 'https' : 'http',
      address: request.ip,
      ...(request.headers['user-agent'] ? { userAgent: String(request.headers['user-agent']) } : {}),
      method: request.method,
      ...(request.routeOptions.url ? { route: request.routeOptions.url } : {}),
      audited: false,
    };
  });

  // Authentication before the body is read or any handler runs (164.312(d)): no PHI route accepts
  // an anonymous request, and an anonymous client cannot make Ward parse a large body. A bearer
  // token, or else the web app's session cookie (authenticated state only, CSRF token on every
  // state-changing method); anything else is 401.
  app.addHook('onRequest', async (request, reply) => {
    const action = request.routeOptions.config.wardAction;
    if (action === PUBLIC) return;
    const header = request.headers.authorization;
    const cookie = header === undefined ? readSessionCookie(request) : undefined;
    if (cookie !== undefined) {
      const session = await options.identity.sessions.current(
        cookie,
        { method: request.method, csrfHeader: readCsrfHeader(request), passwordChange: 'allowed' },
        ['authenticated'],
      );
      request.principal = options.identity.sessions.principalOf(session);
      // A password marked compromised (NIST SP 800-63B-4 §3.1.1.2): no PHI route — no route past
      // this hook — answers until it is changed. The refusal is audited naming the session's user.
      if (session.passwordChangeRequired) throw new WardError('WARD_PASSWORD_CHANGE_REQUIRED');
      return;
    }
    const token = typeof header === 'string' && /^Bearer [A-Za-z0-9\-_.~+/]+=*$/.test(header) ? header.slice(7) : undefined;
    if (!token) {
      reply.header('www-authenticate', 'Bearer realm="ward"');
      throw new WardError('WARD_UNAUTHENTICATED');
    }
    try {
      request.principal = await options.tokens.verify(token);
    } catch (e) {
      reply.header('www-authenticate', 'Bearer realm="ward", error="invalid_token"');
      throw e;
    }
  });

  app.addHook('onSend', async (_request, reply, payload) => {
    securityHeaders(reply, Boolean(options.https));
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? '(none)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  app.setErrorHandler(async (error, request, reply) => sendError(options.fhir, request, reply, toWardError(error)));
  app.setNotFoundHandler(async (request, reply) => sendError(options.fhir, request, reply, new WardError('WARD_ROUTE_NOT_FOUND')));

  route(app, {
    method: 'GET',
    url: '/healthz',
    action: PUBLIC,
    handler: async () => {
      const { synchronized, offsetMs, limitMs, checkedAt } = options.clock();
      // Audit times must come from a synchronised clock: a drifting one makes the service degraded.
      return {
        status: synchronized ? 'ok' : 'degraded',
        time: options.now().toISOString(),
        clock: { synchronized, offsetMs, limitMs, reference: 'database server', checkedAt },
      };
    },
  });
  route(app, {
    method: 'GET',
    url: '/.well-known/jwks.json',
    action: PUBLIC,
    handler: async () => options.tokens.jwks(),
  });
  route(app, {
    method: 'GET',
    url: '/.well-known/ward-audit-key',
    action: PUBLIC,
    handler: async () => ({
      keyId: options.auditKey.keyId,
      algorithm: 'Ed25519',
      publicKeyPem: options.auditKey.publicKeyPem,
      signedTreeHead: 'RFC 6962 section 3.5 TreeHeadSignature: 0x00 0x01 uint64 timestamp_ms uint64 tree_size root_hash[32]',
      leafHash: 'SHA-256(0x00 || uint64 seq || UTF-8 canonical JSON entry)',
    }),
  });
  registerFhirRoutes(app, options);
  registerAuditorRoutes(app, options.auditor);
  registerOrganizationPolicyRoutes(app, options.organizationPolicy);
  registerAuthRoutes(app, options.identity);
  registerComplianceRoutes(app, options.identity.complianceReport);
  registerAdminRoutes(app, options.admin);
  registerOAuthRoutes(app, options.smart, Boolean(options.https));
  registerOAuthInteractionRoutes(app, options.smart, { https: Boolean(options.https), baseUrl: options.baseUrl });
  registerSmartUserRoutes(app, options.smart);
  await app.ready();
  return { app, routes };
}

/**
 * Answers an error with its OperationOutcome — after making sure the request has its audit
 * entry. If the audit store cannot take it, the answer is 503 and nothing else (invariant 2).
 */
async function sendError(fhir: FhirInteractions, request: FastifyRequest, reply: FastifyReply, error: WardError): Promise<void> {
  let final = error;
  const ctx = request.wardCtx;
  if (ctx && !ctx.audited) {
    const params = request.params as { type?: unknown; id?: unknown } | undefined;
    try {
      await fhir.recordRequest(request.principal, ctx, {
        status: error.status,
        code: error.code,
        // The target of a refused request is part of "what" (164.312(b)); the vault records a type
        // only if it is one, and the id only as a keyed hash.
        ...(typeof params?.type === 'string' ? { resourceType: params.type } : {}),
        ...(typeof params?.id === 'string' ? { resourceId: params.id } : {}),
      });
    } catch (e) {
      final = toWardError(e);
      if (final.code !== 'WARD_AUDIT_UNAVAILABLE') final = new WardError('WARD_AUDIT_UNAVAILABLE', { cause: e });
    }
  }
  if (final.status >= 500) {
    // The cause's message may quote data; the log gets its class, code and stack frames only.
    const cause = final.cause as { name?: string; code?: string; stack?: string } | undefined;
    request.log.error(
      {
        reqId: request.id,
        code: final.code,
        causeName: cause?.name,
        causeCode: cause?.code,
        frames: cause?.stack?.split('\n').slice(1, 8).join('\n'),
      },
      'request failed',
    );
  }
  // RFC 9470: the challenge that tells a client to authenticate again more strongly and retry.
  if (final.code === 'WARD_STEP_UP_REQUIRED')
    reply.header(
      'www-authenticate',
      'Bearer realm="ward", error="insufficient_user_authentication", error_description="step up with POST /auth/step-up"',
    );
  reply.code(final.status).type(FHIR_JSON).send(outcomeOf(final));
}
