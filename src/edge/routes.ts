import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { PolicyAction } from '../policy/index.js';

/** Every route names its policy action; a public route says PUBLIC explicitly. There is no default. */
export const PUBLIC = 'PUBLIC';
/** A route whose body names several interactions (a transaction or batch Bundle): policy decides each entry. */
export const PER_ENTRY = 'PER_ENTRY';
export type RouteAction = typeof PUBLIC | typeof PER_ENTRY | PolicyAction;

export interface RouteSpec {
  readonly method: HTTPMethods;
  readonly url: string;
  readonly action: RouteAction;
  readonly handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** A smaller body limit than the server's, for routes anyone may call (login, enrollment). */
  readonly bodyLimit?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    wardAction?: RouteAction;
  }
}

/** Registers a route with its action; the onRoute guard in http-app refuses any route without one. */
export function route(app: FastifyInstance, spec: RouteSpec): void {
  app.route({
    method: spec.method,
    url: spec.url,
    config: { wardAction: spec.action },
    handler: spec.handler,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
  });
}

/** Refuses, at start-up, any route registered without a policy action (fail closed, not open). */
export function requireActionOnEveryRoute(app: FastifyInstance, registered: { method: string; url: string; action: RouteAction }[]): void {
  app.addHook('onRoute', (options) => {
    const action = (options.config as { wardAction?: RouteAction } | undefined)?.wardAction;
    if (action === undefined) throw new TypeError(`route ${String(options.method)} ${options.url} declares no policy action`);
    for (const method of [options.method].flat()) registered.push({ method: String(method), url: options.url, action });
  });
}
