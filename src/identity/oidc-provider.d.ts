/**
 * The part of oidc-provider (which ships no types) Ward uses. Configuration stays loosely typed:
 * oidc-provider validates it itself at construction and throws on a mistake.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type ErrorClass = new (description?: string, detail?: string) => Error;

  export class Provider {
    constructor(issuer: string, configuration: object);
    proxy: boolean;
    on(event: string, listener: (ctx: unknown, error: Error) => void): this;
    use<C>(middleware: (ctx: C, next: () => Promise<void>) => Promise<void>): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  }

  export const errors: {
    readonly InvalidClient: ErrorClass;
    readonly InvalidClientAuth: ErrorClass;
    readonly InvalidTarget: ErrorClass;
    readonly InvalidScope: ErrorClass;
    readonly InvalidGrant: ErrorClass;
    readonly InvalidRequest: ErrorClass;
    readonly AccessDenied: ErrorClass;
  };
}
