import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TestWard } from './engines.js';

export interface Call {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  /** Parsed JSON; tests inspect it structurally. */
  readonly body: any;
  readonly raw: LightMyRequestResponse;
}

/** A small FHIR client over Fastify inject for tests: JSON in, parsed JSON out. */
export function fhirClient(t: TestWard, token?: string) {
  const call = async (
    method: InjectOptions['method'],
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Call> => {
    const res = await t.http.app.inject({
      method,
      url: url.startsWith('/') ? url : `/fhir/${url}`,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    let parsed: unknown;
    try {
      parsed = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = res.body;
    }
    return { status: res.statusCode, headers: res.headers, body: parsed, raw: res };
  };
  return {
    call,
    get: (url: string, headers?: Record<string, string>) => call('GET', url, undefined, headers),
    post: (url: string, body: unknown, headers?: Record<string, string>) => call('POST', url, body, headers),
    put: (url: string, body: unknown, headers?: Record<string, string>) => call('PUT', url, body, headers),
    patch: (url: string, ops: unknown, headers?: Record<string, string>) =>
      call('PATCH', url, ops, { 'content-type': 'application/json-patch+json', ...headers }),
    delete: (url: string, headers?: Record<string, string>) => call('DELETE', url, undefined, headers),
  };
}

export type FhirClient = ReturnType<typeof fhirClient>;
