import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WardError } from '../fhir/index.js';
import { type InteractionOutcome, OAUTH_MOUNT, type SmartServer } from '../identity/index.js';
import { renderInteraction } from './oauth-interaction-pages.js';
import { PUBLIC, route } from './routes.js';
import { rawSecurityHeaders } from './security-headers.js';

/** A login or consent form is a few hundred bytes. */
const FORM_LIMIT_BYTES = 16 * 1024;

/**
 * The authorization server's login, second-factor and consent pages (oidc-provider
 * interactions), served by Ward. PUBLIC to the bearer check: the browser holds the interaction's signed cookie, and the
 * user proves who they are on the login page itself. A form posted from another origin is
 * refused (besides the SameSite cookie). Only these pages relax the API's CSP: styles with this
 * response's nonce, and on the second-factor page the WebAuthn script with the same nonce.
 */
export function registerOAuthInteractionRoutes(
  app: FastifyInstance,
  smart: { readonly server: SmartServer },
  options: { readonly https: boolean; readonly baseUrl: string },
): void {
  const base = `${OAUTH_MOUNT}/interaction/:uid`;
  const origin = new URL(options.baseUrl).origin;
  const interactions = smart.server.interactions;

  route(app, {
    method: 'GET',
    url: base,
    action: PUBLIC,
    handler: async (request, reply) => {
      const ctx = request.wardCtx;
      if (!ctx) throw new WardError('WARD_INTERNAL');
      rawSecurityHeaders(reply.raw, options.https);
      const q = (request.query as { q?: unknown }).q;
      const view = await interactions.view(request.raw, reply.raw, uidOf(request), ctx, typeof q === 'string' ? q : undefined);
      return page(reply, view.kind === 'expired' ? 400 : 200, { kind: 'page', status: 200, view });
    },
  });
  for (const step of ['login', 'factor', 'consent'] as const) {
    route(app, {
      method: 'POST',
      url: `${base}/${step}`,
      action: PUBLIC,
      bodyLimit: FORM_LIMIT_BYTES,
      handler: async (request, reply) => {
        const sentFrom = request.headers.origin;
        if (typeof sentFrom === 'string' && sentFrom !== origin) throw new WardError('WARD_POLICY_DENIED');
        if (typeof request.body !== 'string') throw new WardError('WARD_UNSUPPORTED_MEDIA_TYPE');
        const ctx = request.wardCtx;
        if (!ctx) throw new WardError('WARD_INTERNAL');
        rawSecurityHeaders(reply.raw, options.https);
        const form = new URLSearchParams(request.body);
        const outcome = await interactions[step](request.raw, reply.raw, ctx, uidOf(request), form);
        if (outcome.kind === 'redirected') {
          // oidc-provider has already sent the 303 to the app (or back to the authorization endpoint).
          reply.hijack();
          return undefined;
        }
        if (outcome.retryAfterSeconds !== undefined) reply.header('retry-after', String(outcome.retryAfterSeconds));
        return page(reply, outcome.status, outcome);
      },
    });
  }
}

function uidOf(request: FastifyRequest): string {
  const uid = (request.params as { uid?: unknown }).uid;
  return typeof uid === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(uid) ? uid : '';
}

function page(reply: FastifyReply, status: number, outcome: Extract<InteractionOutcome, { kind: 'page' }>) {
  const nonce = randomBytes(16).toString('base64');
  const { html, script } = renderInteraction(outcome.view, nonce);
  const scriptSrc = script ? `; script-src 'nonce-${nonce}'` : '';
  reply.header(
    'content-security-policy',
    `default-src 'none'; style-src 'nonce-${nonce}'${scriptSrc}; base-uri 'none'; frame-ancestors 'none'`,
  );
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}
