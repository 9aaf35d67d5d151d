import type { CustomFetch } from 'openid-client';
import type { TestWard } from './engines.js';

/** openid-client's fetch, answered by the Ward under test through Fastify inject (the client itself is unmodified). */
export function injectFetch(t: TestWard): CustomFetch {
  return async (url, options) => {
    const u = new URL(url);
    const body = options.body;
    const res = await t.http.app.inject({
      method: options.method as 'GET' | 'POST',
      url: `${u.pathname}${u.search}`,
      headers: options.headers,
      ...(body === undefined || body === null ? {} : { payload: typeof body === 'string' ? body : body.toString() }),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of [value].flat()) headers.append(name, String(v));
    }
    const empty = res.statusCode === 204 || res.statusCode === 304 || res.rawPayload.length === 0;
    return new Response(empty ? null : new Uint8Array(res.rawPayload), { status: res.statusCode, headers });
  };
}

interface Cookie {
  readonly value: string;
  readonly path: string;
}

export interface Page {
  readonly status: number;
  readonly location?: string;
  readonly body: string;
  readonly headers: Record<string, unknown>;
}

/**
 * A minimal browser for the authorization server's pages: a cookie jar that honours cookie
 * paths, manual redirects, and form posts from Ward's own origin. Enough to walk login and
 * consent the way a person's browser would; no script (the pages have none).
 */
export class Browser {
  readonly #t: TestWard;
  readonly #jar = new Map<string, Cookie>();
  address = '198.51.100.20';

  constructor(t: TestWard) {
    this.#t = t;
  }

  async get(url: string): Promise<Page> {
    return this.#request('GET', url);
  }

  async post(url: string, form: Record<string, string | string[]>): Promise<Page> {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form)) for (const one of [v].flat()) body.append(k, one);
    return this.#request('POST', url, body.toString());
  }

  /** Follows redirects inside Ward; stops at the first one that leaves it (the app's redirect URI) or at a page. */
  async follow(page: Page): Promise<Page> {
    let current = page;
    for (let i = 0; i < 10 && current.location; i++) {
      const next = new URL(current.location, this.#t.config.baseUrl);
      if (next.origin !== new URL(this.#t.config.baseUrl).origin) return current;
      current = await this.get(`${next.pathname}${next.search}`);
    }
    return current;
  }

  async #request(method: 'GET' | 'POST', url: string, body?: string): Promise<Page> {
    const u = new URL(url, this.#t.config.baseUrl);
    const cookie = [...this.#jar]
      .filter(([, c]) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) || c.path === '/')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
    const res = await this.#t.http.app.inject({
      method,
      url: `${u.pathname}${u.search}`,
      remoteAddress: this.address,
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(body !== undefined
          ? { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(this.#t.config.baseUrl).origin }
          : {}),
      },
      ...(body !== undefined ? { payload: body } : {}),
    });
    for (const line of [res.headers['set-cookie'] ?? []].flat()) {
      const [pair = '', ...attrs] = String(line).split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const path =
        attrs
          .map((a) => a.trim())
          .find((a) => a.toLowerCase().startsWith('path='))
          ?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^expires=Thu, 01 Jan 1970/i.test(a.trim())) || value === '';
      if (expired) this.#jar.delete(name);
      else this.#jar.set(name, { value, path });
    }
    const location = res.headers.location;
    if (process.env.DEBUG_BROWSER) console.log(method, u.pathname, res.statusCode, location);
    return { status: res.statusCode, body: res.body, headers: res.headers, ...(typeof location === 'string' ? { location } : {}) };
  }
}

/** The action of the first form on a page, and its named inputs. */
export function formOf(page: Page): { action: string; checkboxes: string[] } {
  const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1] ?? '';
  const checkboxes = [...page.body.matchAll(/type="checkbox" name="scope" value="([^"]+)"/g)].map((m) => decode(m[1] ?? ''));
  return { action: decode(action), checkboxes };
}

function decode(text: string): string {
  return text.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)));
}
