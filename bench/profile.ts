import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';

/**
 * An in-process CPU profile of the server's thread over one measured window (BENCH_PROFILE=1),
 * summarised by area (Ward layer, library, Node internals, GC, idle) and by function. Profiling
 * slows the server, so a profiled run's throughput figures are not comparable to an unprofiled one.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time per area, largest first. */
  readonly byArea: { area: string; ms: number; pct: number }[];
  /** Self time per function, largest first. */
  readonly selfTop: { fn: string; ms: number; pct: number }[];
  /** Inclusive time of Ward's own functions and of a few library entry points, largest first. */
  readonly inclusiveTop: { fn: string; ms: number; pct: number }[];
  /** Every sample attributed to one cost (first rule that matches its stack), largest first. */
  readonly costs: { cost: string; ms: number; pct: number }[];
}

type Frame = ProfileNode['callFrame'];
const has = (stack: readonly Frame[], test: (f: Frame) => boolean) => stack.some(test);
const inFile = (f: Frame, part: string) => f.url.includes(part);
/** The project folder as frames name it (file URLs, with a trailing slash). */
const ROOT_URL = new URL('..', import.meta.url).href;
/** A frame of Ward's own code, as the benchmark runs it (compiled, `dist/`) or as tsx runs it (`src/`). */
const inWard = (f: Frame, part = '') => f.url.startsWith(`${ROOT_URL}dist/${part}`) || f.url.startsWith(`${ROOT_URL}src/${part}`);

/**
 * Named costs, first match wins. Async functions break stacks at each await, so these are matched
 * on the whole (possibly short) stack of a sample, not only on its top frame. A sample none of
 * them claims goes to the owner of its nearest recognisable frame (see OWNERS).
 */
const COSTS: readonly { cost: string; match: (stack: readonly Frame[]) => boolean }[] = [
  { cost: '(idle)', match: (s) => s[0]?.functionName === '(idle)' },
  { cost: '(garbage collector)', match: (s) => s[0]?.functionName === '(garbage collector)' },
  { cost: '(program: V8/libuv outside JS)', match: (s) => s[0]?.functionName === '(program)' },
  {
    cost: 'socket write syscalls (HTTP responses, pg messages)',
    match: (s) => !s[0]?.url && /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/.test(s[0]?.functionName ?? ''),
  },
  {
    cost: 'access-token verification (jose, WebCrypto ECDSA P-256)',
    match: (s) => has(s, (f) => inFile(f, '/node_modules/jose/') || (inFile(f, 'crypto/webcrypto') && f.functionName === 'verify')),
  },
  {
    cost: 'body seal/open (AES-256-GCM, JSON of the body)',
    match: (s) => has(s, (f) => inWard(f, 'crypto/envelope') || /^(sealResource|openResource)$/.test(f.functionName)),
  },
  {
    cost: 'audit entry (build, canonical JSON, insert params)',
    match: (s) => has(s, (f) => inWard(f, 'audit/') || f.functionName === 'auditEntry' || inWard(f, 'store/audit-store')),
  },
  {
    cost: 'validation and body snapshot',
    match: (s) => has(s, (f) => /^(validateResource|checkBody)$/.test(f.functionName) || inWard(f, 'fhir/validation')),
  },
];

/** Owners for the rest, by the frame nearest the top of the stack that one of them recognises. */
const OWNERS: readonly { cost: string; test: (f: Frame) => boolean }[] = [
  { cost: 'ward (other)', test: (f) => inWard(f) },
  { cost: 'pg driver (protocol encode/decode, pool)', test: (f) => /\/node_modules\/(pg|pg-protocol|pg-pool|pg-types)\//.test(f.url) },
  {
    cost: 'fastify (routing, hooks, parse, serialize)',
    test: (f) => /\/node_modules\/(fastify|find-my-way|avvio|@fastify\/[^/]+|fast-json-stringify|secure-json-parse|pino)\//.test(f.url),
  },
  { cost: 'node http/net/streams', test: (f) => /^node:(_http|net|internal\/(http|streams|stream_base))/.test(f.url) },
];

function costOf(stack: readonly Frame[]): string {
  const named = COSTS.find((c) => c.match(stack));
  if (named) return named.cost;
  for (const f of stack) {
    const owner = OWNERS.find((o) => o.test(f));
    if (owner) return owner.cost;
  }
  return 'other (native, node internals)';
}

export class Profiler {
  readonly #session = new Session();
  #connected = false;

  async start(): Promise<void> {
    if (!this.#connected) {
      this.#session.connect();
      this.#connected = true;
      await this.#session.post('Profiler.enable');
      await this.#session.post('Profiler.setSamplingInterval', { interval: 200 });
    }
    await this.#session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = await this.#session.post('Profiler.stop');
    return profile as unknown as CpuProfile;
  }

  close(): void {
    if (this.#connected) this.#session.disconnect();
    this.#connected = false;
  }
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName.startsWith('(')) return functionName;
    return '(native)';
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split('/');
    return `lib:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = /^(?:src|dist)\/([^/]+)\//.exec(path.startsWith(ROOT) ? path.slice(ROOT.length) : '');
  if (src) return `ward:${src[1]}`;
  if (path.startsWith(`${ROOT}bench/`)) return 'bench';
  return 'other';
}

function label(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  const short = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  if (short.startsWith('src/') || short.startsWith('bench/')) return `${name} ${short}`; // tsx output: line numbers do not match the source
  const tail = short.includes('/node_modules/') ? short.slice(short.lastIndexOf('/node_modules/') + 14) : short;
  return `${name} ${tail}:${frame.lineNumber + 1}`;
}

export function summarise(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time is the gap to the next one (the last sample gets the mean gap).
    const dt = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const id = profile.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  }
  const costs = new Map<string, number>();
  const stackOf = (id: number): Frame[] => {
    const out: Frame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (f) out.push(f);
    }
    return out;
  };
  const area = new Map<string, number>();
  const selfFn = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const stack = stackOf(id);
    const cost = costOf(stack);
    costs.set(cost, (costs.get(cost) ?? 0) + ms);
    const a = areaOf(node.callFrame);
    area.set(a, (area.get(a) ?? 0) + ms);
    const l = label(node.callFrame);
    selfFn.set(l, (selfFn.get(l) ?? 0) + ms);
    // Inclusive: every distinct Ward function (and selected library entry points) on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (!f) break;
      const ar = areaOf(f);
      const interesting =
        ar.startsWith('ward:') || /^(jwtVerify|flatVerify|compactVerify|stringify|parse|serialize|onSend|query)$/.test(f.functionName);
      if (!interesting || !f.functionName) continue;
      const key = label(f);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  const rank = <K extends string>(m: Map<string, number>, key: K, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, ms]) =>
          ({ [key]: k, ms: Math.round(ms), pct: Math.round((ms / total) * 1000) / 10 }) as { [P in K]: string } & {
            ms: number;
            pct: number;
          },
      );
  return {
    totalMs: Math.round(total),
    byArea: rank(area, 'area', 30),
    selfTop: rank(selfFn, 'fn', top),
    inclusiveTop: rank(inclusive, 'fn', top * 2),
    costs: rank(costs, 'cost', COSTS.length + OWNERS.length + 1),
  };
}
