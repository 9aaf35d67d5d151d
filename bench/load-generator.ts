/**
 * The load generator, run as a child process so that autocannon does not share an event loop with
 * the server it measures. The parent sends one LoadSpec at a time over IPC and gets a LoadResult
 * back. Run by bench/run.ts; not meant to be started by hand.
 */
import autocannon, { type AutocannonRequest, type AutocannonResult } from 'autocannon';

export type LoadPlan =
  | { readonly method: 'GET'; readonly paths: readonly string[] }
  | { readonly method: 'POST'; readonly path: string; readonly bodies: readonly string[] }
  | { readonly method: 'PUT'; readonly items: readonly { readonly path: string; readonly body: string }[] };

export interface LoadSpec {
  readonly name: string;
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly headers: Readonly<Record<string, string>>;
  /** PEM of the CA to present to tls.connect (autocannon 9 still forces rejectUnauthorized: false). */
  readonly caPem?: string;
  readonly plan: LoadPlan;
}

export interface LoadResult {
  readonly name: string;
  /** 2xx responses per second of the measured window: the throughput figure the report uses. */
  readonly okPerSecond: number;
  /** All responses per second (autocannon's requests.average), errors included. */
  readonly responsesPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Percentiles of the 2xx responses' own durations, to the microsecond (autocannon's are whole ms and have no p95). */
  readonly exactLatencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  readonly total: number;
  readonly ok2xx: number;
  readonly non2xx: number;
  /** Connection errors plus timeouts. */
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  readonly seconds: number;
  /** CPU the load generator itself used during the measured window (user + system). */
  readonly clientCpuMs: number;
}

export type ParentMessage = { readonly type: 'run'; readonly spec: LoadSpec } | { readonly type: 'exit' };
export type ChildMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'started' }
  | { readonly type: 'result'; readonly result: LoadResult }
  | { readonly type: 'error'; readonly message: string };

function requestsOf(plan: LoadPlan): AutocannonRequest[] {
  // One counter shared by all connections: consecutive requests go to consecutive ids, so the
  // requests in flight at any moment touch distinct rows.
  let n = 0;
  switch (plan.method) {
    case 'GET':
      return [{ method: 'GET', setupRequest: (req) => ({ ...req, path: plan.paths[n++ % plan.paths.length] as string }) }];
    case 'POST':
      return [
        { method: 'POST', path: plan.path, setupRequest: (req) => ({ ...req, body: plan.bodies[n++ % plan.bodies.length] as string }) },
      ];
    case 'PUT':
      return [
        {
          method: 'PUT',
          setupRequest: (req) => {
            const item = plan.items[n++ % plan.items.length] as { path: string; body: string };
            return { ...req, path: item.path, body: item.body };
          },
        },
      ];
  }
}

async function fire(spec: LoadSpec, requests: AutocannonRequest[], seconds: number, durations?: number[]): Promise<AutocannonResult> {
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: seconds,
    pipelining: 1,
    timeout: 30,
    headers: { ...spec.headers },
    requests,
    ...(spec.caPem ? { tlsOptions: { ca: spec.caPem, minVersion: 'TLSv1.3' } } : {}),
  });
  if (durations) {
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) durations.push(responseTime);
    });
  }
  return instance;
}

/** The q-quantile (nearest rank) of durations sorted ascending; 0 when there are none. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const requests = requestsOf(spec.plan);
  if (spec.warmupSeconds > 0) await fire(spec, requests, spec.warmupSeconds);
  reply({ type: 'started' });
  const cpu = process.cpuUsage();
  const durations: number[] = [];
  const r = await fire(spec, requests, spec.seconds, durations);
  const used = process.cpuUsage(cpu);
  durations.sort((a, b) => a - b);
  const exact = (q: number) => Math.round(quantile(durations, q) * 1000) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = count;
  return {
    name: spec.name,
    okPerSecond: r['2xx'] / r.duration,
    responsesPerSecond: r.requests.average,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: r.latency.mean },
    exactLatencyMs: { p50: exact(0.5), p95: exact(0.95), p99: exact(0.99) },
    total: r.requests.total,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    timeouts: r.timeouts,
    statusCodes,
    seconds: r.duration,
    clientCpuMs: (used.user + used.system) / 1000,
  };
}

/** Sends to the parent unless it has gone (then there is no one to report to). */
function reply(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

if (process.send) {
  // The parent owns this process: when it goes away (finished, interrupted, crashed), so do we.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'exit') {
      process.disconnect();
      return;
    }
    run(message.spec).then(
      (result) => reply({ type: 'result', result }),
      (e: unknown) => reply({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
    );
  });
  reply({ type: 'ready' });
}
