/** Tables of the large search benchmark: throughput, latency percentiles and the p99 goal. */
import { outsideCores, type ScenarioResult } from './report.js';

const ms = (n: number) => n.toFixed(1);
const perRequest = (cpuMs: number | null, r: ScenarioResult) => (cpuMs === null ? 'n/a' : (cpuMs / Math.max(1, r.load.total)).toFixed(2));

function rows(results: readonly ScenarioResult[]): string[][] {
  return results.map((r) => [
    r.name,
    r.load.okPerSecond.toFixed(1),
    ms(r.load.exactLatencyMs.p50),
    ms(r.load.exactLatencyMs.p95),
    ms(r.load.exactLatencyMs.p99),
    String(r.load.errors),
    String(r.load.non2xx),
    perRequest(r.cpu.serverCpuMs, r),
    perRequest(r.cpu.postgresBenchCpuMs, r),
    outsideCores(r)?.toFixed(2) ?? 'n/a',
  ]);
}

/** CPU per request moves less than req/s on a shared machine; "outside" is CPU other programs used meanwhile, in cores. */
const HEAD = [
  'scenario',
  'req/s',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'errors',
  'non-2xx',
  'server CPU ms/req',
  'pg CPU ms/req',
  'outside cores',
];

/** The console table, with one MET / NOT MET line per scenario against the p99 goal. */
export function searchTable(results: readonly ScenarioResult[], p99GoalMs: number): string {
  const all = [HEAD, ...rows(results)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const table = all.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
  const goals = results.map(
    (r) =>
      `${r.load.exactLatencyMs.p99 < p99GoalMs && r.load.errors + r.load.non2xx === 0 ? 'MET    ' : 'NOT MET'}  ${r.name} p99 ${ms(r.load.exactLatencyMs.p99)} ms (goal < ${p99GoalMs} ms)`,
  );
  return `${table}\n\n${goals.join('\n')}`;
}

export function searchMarkdown(results: readonly ScenarioResult[]): string {
  return [`| ${HEAD.join(' | ')} |`, '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|', ...rows(results).map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );
}
