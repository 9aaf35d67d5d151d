/**
 * The part of oidc-provider (which ships no types) Ward uses. Configuration stays loosely typed:
 * oidc-provider validates it itself at construction and throws on a mistake.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  type ErrorClass = new (description?: string, detail?: string) => Error;

  /** An authorization request waiting for the user (login or consent), as oidc-provider stores it. */
  export interface InteractionDetails {
    readonly uid: string;
    readonly prompt: { readonly name: string; readonly reasons: readonly string[]; readonly details: Record<string, unknown> };
    readonly params: Record<string, unknown>;
    readonly session?: { readonly accountId: string; readonly uid: string };
    readonly grantId?: string;
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    rejectResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration: object);
    proxy: boolean;
    on(event: string, listener: (ctx: unknown, error: Error) => void): this;
    use<C>(middleware: (ctx: C, next: () => Promise<void>) => Promise<void>): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: object,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    readonly Grant: {
      new (init: { accountId: string; clientId: string }): GrantInstance;
      find(id: string): Promise<GrantInstance | undefined>;
    };
  }

  export const errors: {
    readonly InvalidClient: ErrorClass;
    readonly InvalidClientAuth: ErrorClass;
    readonly InvalidTarget: ErrorClass;
    readonly InvalidScope: ErrorClass;
    readonly InvalidGrant: ErrorClass;
    readonly InvalidRequest: ErrorClass;
    readonly AccessDenied: ErrorClass;
    readonly SessionNotFound: ErrorClass;
  };
}
